/// crash-bench: the long form of the kill -9 durability test
/// (tests/support/crash_workload.hpp). Runs many kill/restart/verify
/// cycles, prints progress and a summary, and writes the numbers as JSON.
/// Exits 1 when any check failed, 2 on bad flags.
///
///   crash-bench [--cycles N] [--threads N] [--agents-per-thread N]
///               [--seconds-per-cycle S] [--min-seconds S] [--seed N]
///               [--sync] [--out FILE]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json_value.hpp"
#include "tests/support/crash_workload.hpp"
#include "tests/support/server_process.hpp"

namespace {

namespace cw = rapi::test::crash;

struct bench_options {
  unsigned cycles = 10;
  unsigned threads = 4;
  unsigned agents_per_thread = 4;
  double seconds_per_cycle = 3.0;
  /// The kill comes at a random moment in [min_seconds, seconds_per_cycle].
  double min_seconds = -1; // default: a quarter of seconds_per_cycle
  std::uint64_t seed = 0;  // 0: from the clock
  bool sync = false;
  std::string out = "bench/results/crash.json";
};

void usage(std::ostream& os) {
  os << "usage: crash-bench [--cycles N] [--threads N] "
        "[--agents-per-thread N]\n"
        "                   [--seconds-per-cycle S] [--min-seconds S] "
        "[--seed N]\n"
        "                   [--sync] [--out FILE]\n"
        "Kills the server with SIGKILL at a random moment of each cycle's "
        "load,\nrestarts it and checks every acknowledged change. "
        "--sync runs it with\nstorage.sync=true. Defaults: 10 cycles, 4 "
        "threads, 4 agents per thread,\n3 s per cycle, out "
        "bench/results/crash.json.\n";
}

bool parse(int argc, char** argv, bench_options& o, bool& help) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= argc)
        return false;
      v = argv[++i];
      return true;
    };
    std::string v;
    try {
      if (a == "--help" || a == "-h") {
        help = true;
      } else if (a == "--sync") {
        o.sync = true;
      } else if (a == "--strict") {
        // Accepted for old scripts; every check is strict now.
      } else if (a == "--cycles" && value(v)) {
        o.cycles = static_cast<unsigned>(std::stoul(v));
      } else if (a == "--threads" && value(v)) {
        o.threads = static_cast<unsigned>(std::stoul(v));
      } else if (a == "--agents-per-thread" && value(v)) {
        o.agents_per_thread = static_cast<unsigned>(std::stoul(v));
      } else if (a == "--seconds-per-cycle" && value(v)) {
        o.seconds_per_cycle = std::stod(v);
      } else if (a == "--min-seconds" && value(v)) {
        o.min_seconds = std::stod(v);
      } else if (a == "--seed" && value(v)) {
        o.seed = std::stoull(v);
      } else if (a == "--out" && value(v)) {
        o.out = v;
      } else {
        std::cerr << "crash-bench: bad or incomplete option '" << a << "'\n";
        return false;
      }
    } catch (const std::exception&) {
      std::cerr << "crash-bench: " << a << " needs a number, not '" << v
                << "'\n";
      return false;
    }
  }
  if (o.threads == 0 || o.agents_per_thread == 0
      || o.seconds_per_cycle <= 0) {
    std::cerr << "crash-bench: --threads, --agents-per-thread and "
                 "--seconds-per-cycle must be positive\n";
    return false;
  }
  return true;
}

std::string json_text(const std::string& s) {
  std::string out;
  rapi::append_json_string(out, s);
  return out;
}

/// The result as JSON: the run's settings, its totals, every cycle.
std::string to_json(const bench_options& o, const cw::crash_result& r) {
  std::string j = "{\n";
  auto num = [&](const char* k, double v, bool last = false) {
    std::ostringstream os;
    os << "  \"" << k << "\": " << v << (last ? "\n" : ",\n");
    j += os.str();
  };
  j += "  \"seed\": " + std::to_string(r.seed) + ",\n";
  j += std::string("  \"sync\": ") + (o.sync ? "true" : "false") + ",\n";
  num("cycles_requested", o.cycles);
  num("cycles", r.cycles);
  num("threads", o.threads);
  num("agents", r.agents);
  num("seconds_per_cycle", o.seconds_per_cycle);
  num("acknowledged_ops", static_cast<double>(r.acknowledged));
  num("verified_ops", static_cast<double>(r.verified));
  num("in_flight_at_kill", static_cast<double>(r.cut));
  num("in_flight_applied", static_cast<double>(r.cut_applied));
  num("recording_checks", static_cast<double>(r.recordings_checked));
  num("load_seconds", r.load_seconds);
  num("acknowledged_ops_per_second",
      r.load_seconds > 0 ? static_cast<double>(r.acknowledged) / r.load_seconds
                         : 0);
  num("elapsed_seconds", r.seconds);
  num("failures", static_cast<double>(r.failure_count));
  j += "  \"failure_messages\": [";
  for (std::size_t i = 0; i < r.failures.size() && i < 20; ++i)
    j += (i == 0 ? "\n    " : ",\n    ") + json_text(r.failures[i]);
  j += r.failures.empty() ? "],\n" : "\n  ],\n";
  j += "  \"data_dir\": " + json_text(r.data_dir) + ",\n";
  j += "  \"per_cycle\": [";
  for (std::size_t i = 0; i < r.per_cycle.size(); ++i) {
    const auto& c = r.per_cycle[i];
    std::ostringstream os;
    os << (i == 0 ? "\n    " : ",\n    ") << "{\"cycle\": " << c.cycle
       << ", \"kill_after_ms\": " << c.kill_after_ms
       << ", \"acknowledged\": " << c.acknowledged
       << ", \"in_flight\": " << c.cut
       << ", \"in_flight_applied\": " << c.cut_applied
       << ", \"verified\": " << c.verified
       << ", \"recording_checks\": " << c.recordings_checked
       << ", \"restart_ms\": " << c.restart_ms
       << ", \"verify_ms\": " << c.verify_ms
       << ", \"failures\": " << c.failures << "}";
    j += os.str();
  }
  j += r.per_cycle.empty() ? "]\n" : "\n  ]\n";
  j += "}\n";
  return j;
}

} // namespace

int main(int argc, char** argv) {
  bench_options o;
  bool help = false;
  if (!parse(argc, argv, o, help)) {
    usage(std::cerr);
    return 2;
  }
  if (help) {
    usage(std::cout);
    return 0;
  }
  if (o.seed == 0)
    o.seed = std::random_device{}() | 1u;

  cw::crash_config cfg;
  cfg.cycles = o.cycles;
  cfg.threads = o.threads;
  cfg.agents_per_thread = o.agents_per_thread;
  const double lo = o.min_seconds >= 0 ? o.min_seconds
                                       : o.seconds_per_cycle / 4;
  cfg.max_load = std::chrono::milliseconds(
    static_cast<std::int64_t>(o.seconds_per_cycle * 1000));
  cfg.min_load = std::chrono::milliseconds(static_cast<std::int64_t>(
    std::min(lo, o.seconds_per_cycle) * 1000));
  cfg.seed = o.seed;
  cfg.agents_file = std::string(RAPI_SOURCE_DIR) + "/config/agents.json";
  cfg.log = &std::cout;

  std::string cfg_dir;
  if (o.sync) {
    cfg_dir = rapi::test::make_temp_dir("rapi-crash-cfg");
    std::ofstream(cfg_dir + "/c.json") << R"({"storage": {"sync": true}})";
    cfg.extra_args = {"--config", cfg_dir + "/c.json"};
  }

  std::cout << "crash-bench: " << o.cycles << " cycles, " << o.threads
            << " threads x " << o.agents_per_thread << " agents, kill after "
            << cfg.min_load.count() << "-" << cfg.max_load.count()
            << " ms of load, seed " << o.seed << (o.sync ? ", fsync" : "")
            << "\n  server " << rapi::test::binary_path() << std::endl;
  auto r = cw::run_crash(cfg);
  if (!cfg_dir.empty())
    rapi::test::remove_dir(cfg_dir);

  std::cout << "\nsummary: " << cw::summary(r) << "\n";
  std::cout << "  cycles            " << r.cycles << "\n"
            << "  acknowledged ops  " << r.acknowledged << " ("
            << static_cast<long>(r.load_seconds > 0
                                   ? r.acknowledged / r.load_seconds
                                   : 0)
            << "/s under load)\n"
            << "  verified ops      " << r.verified << "\n"
            << "  in flight at kill " << r.cut << " (" << r.cut_applied
            << " applied)\n"
            << "  recording checks  " << r.recordings_checked << "\n"
            << "  failures          " << r.failure_count << "\n";
  for (std::size_t i = 0; i < r.failures.size() && i < 20; ++i)
    std::cout << "  FAIL " << r.failures[i] << "\n";
  if (!r.ok())
    std::cout << "  data kept in " << r.data_dir << "\n"
              << "  rerun with --seed " << r.seed << "\n";

  try {
    const std::filesystem::path out(o.out);
    if (out.has_parent_path())
      std::filesystem::create_directories(out.parent_path());
    std::ofstream f(out);
    f << to_json(o, r);
    if (!f)
      throw std::runtime_error("cannot write");
    std::cout << "  written to " << o.out << "\n";
  } catch (const std::exception& e) {
    std::cerr << "crash-bench: cannot write " << o.out << ": " << e.what()
              << "\n";
    return 1;
  }
  return r.ok() && r.cycles == o.cycles ? 0 : 1;
}
