/// durability-bench: what fsync costs (issue "Durability", point 3).
///
/// Starts the server twice, with `storage.sync=false` (the default: a 200
/// means the change is in the write-ahead log) and `storage.sync=true`
/// (fsync per write group, group commit), provisions agents, and drives a
/// closed loop of alternating `POST /api/Blackout/StartForAgent` /
/// `StopForAgent` from T keep-alive client threads, each on its own agents.
/// Reports req/s, latency percentiles and errors per mode, and the ratio.

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include "bench/bench_util.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace {

using namespace rapi::bench;
using rapi::test::http_client;
using rapi::test::server_options;
using rapi::test::server_process;

/// Command-line options.
struct options {
  std::uint64_t agents = 1'000;
  unsigned threads = 16;
  double seconds = 5;
  double warmup = 1;
  std::string out = default_result_path("durability.json");
  bool quick = false;
};

const char* const usage_text =
  "usage: durability-bench [--quick] [--agents N] [--threads N]\n"
  "                        [--seconds S] [--warmup S] [--out FILE]\n"
  "  --agents N    agents provisioned, split among the threads (default\n"
  "                1000; quick 64)\n"
  "  --threads N   client threads, one keep-alive connection each\n"
  "                (default 16; quick 4)\n"
  "  --seconds S   measured time per mode (default 5; quick 1)\n"
  "  --warmup S    unmeasured time before it (default 1; quick 0.2)\n"
  "  --out FILE    JSON results (default bench/results/durability.json)\n"
  "  --quick       small sizes that run in a few seconds\n";

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") {
      o.quick = true;
      o.agents = 64;
      o.threads = 4;
      o.seconds = 1;
      o.warmup = 0.2;
    }
  arg_reader a(argc, argv);
  while (a.more()) {
    if (a.flag("--quick") || a.number("--agents", o.agents)
        || a.number("--threads", o.threads) || a.real("--seconds", o.seconds)
        || a.real("--warmup", o.warmup) || a.value("--out", o.out))
      continue;
    if (a.flag("--help") || a.flag("-h")) {
      std::cout << usage_text;
      std::exit(0);
    }
    throw std::invalid_argument("unknown option '" + a.current() + "'");
  }
  if (o.threads == 0 || o.agents < o.threads)
    throw std::invalid_argument("need --threads > 0 and --agents >= --threads");
  if (o.seconds <= 0)
    throw std::invalid_argument("--seconds must be > 0");
  return o;
}

// -- fsync probe -------------------------------------------------------------

/// Latency of 4 KiB written + `fdatasync` on the temp folder's file system,
/// the floor under every synced commit: appended to a growing file (the
/// size changes, so the journal commits too) and overwritten in place in
/// a preallocated file (as RocksDB's preallocated / recycled WAL mostly is).
struct fsync_probe_result {
  latency_summary append;
  latency_summary overwrite;
};

fsync_probe_result fsync_probe(unsigned n) {
  const std::string dir = rapi::test::make_temp_dir("rapi-bench-fsync");
  const std::string block(4096, 'x');
  auto probe = [&](const std::string& path, bool append) {
    std::vector<double> ms;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0)
      return summarize(ms);
    bool ok = true;
    if (!append) { // preallocate with real data, flushed
      for (unsigned i = 0; ok && i < n; ++i)
        ok = ::write(fd, block.data(), block.size())
             == static_cast<ssize_t>(block.size());
      ok = ok && ::fsync(fd) == 0;
    }
    for (unsigned i = 0; ok && i < n; ++i) {
      const off_t at = static_cast<off_t>(i) * 4096;
      const auto t0 = clock::now();
      ok = ::pwrite(fd, block.data(), block.size(), at)
             == static_cast<ssize_t>(block.size())
           && ::fdatasync(fd) == 0;
      if (ok)
        ms.push_back(ms_since(t0));
    }
    ::close(fd);
    return summarize(ms);
  };
  fsync_probe_result r;
  r.append = probe(dir + "/append", true);
  r.overwrite = probe(dir + "/overwrite", false);
  rapi::test::remove_dir(dir);
  return r;
}

// -- one mode ----------------------------------------------------------------

/// Everything measured for one durability mode.
struct mode_result {
  bool sync = false;
  double start_ms = 0;
  double provision_ms = 0;
  double measured_s = 0;
  std::uint64_t requests = 0;    ///< started inside the measured window
  std::uint64_t all_requests = 0; ///< including warm-up and the tail
  std::uint64_t errors = 0;      ///< non-200 answers
  std::uint64_t exceptions = 0;  ///< timeouts, broken connections
  std::map<int, std::uint64_t> error_statuses;
  std::string first_error;
  double req_per_s = 0;
  latency_summary latency;
  latency_summary start_latency; ///< StartForAgent only
  latency_summary stop_latency;  ///< StopForAgent only
  std::uint64_t verified = 0;    ///< agents whose blackout state was checked
  std::uint64_t mismatches = 0;  ///< blackout state differs from the last 200
  mem_info memory;
  double data_dir_mib = 0;
  int exit_code = -1;
};

/// What one client thread measured.
struct thread_result {
  std::vector<double> start_ms;
  std::vector<double> stop_ms;
  std::uint64_t all_requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t exceptions = 0;
  std::map<int, std::uint64_t> error_statuses;
  std::string first_error;
  /// Per agent of the thread: whether the last acknowledged command was a
  /// start (the blackout should be active).
  std::vector<std::pair<std::uint64_t, bool>> expected;
};

/// The closed loop of one client thread over agents `first`, `first + step`,
/// ... up to `agents`, until `end`; requests started in [`from`, `end`)
/// are measured.
void client_loop(const server_process& srv, std::uint64_t first,
                 std::uint64_t step, std::uint64_t agents,
                 clock::time_point from, clock::time_point end,
                 thread_result& out) {
  http_client api = srv.api();
  std::vector<std::string> bodies;
  for (std::uint64_t id = first; id <= agents; id += step) {
    out.expected.emplace_back(id, false);
    bodies.push_back("{\"AgentIdentifier\":\"Id\",\"Value\":\""
                     + std::to_string(id) + "\"}");
  }
  std::vector<bool> on(bodies.size(), false);
  std::size_t k = 0;
  for (;;) {
    const auto t0 = clock::now();
    if (t0 >= end)
      break;
    const bool start = !on[k];
    ++out.all_requests;
    try {
      auto r = api.post(start ? "/api/Blackout/StartForAgent"
                              : "/api/Blackout/StopForAgent",
                        bodies[k]);
      const auto t1 = clock::now();
      if (t0 >= from)
        (start ? out.start_ms : out.stop_ms).push_back(ms_between(t0, t1));
      if (r.status == 200) {
        on[k] = start;
      } else {
        ++out.errors;
        ++out.error_statuses[r.status];
        if (out.first_error.empty())
          out.first_error =
            std::to_string(r.status) + ": " + r.body.substr(0, 200);
      }
    } catch (const std::exception& e) {
      ++out.exceptions;
      if (out.first_error.empty())
        out.first_error = e.what();
      api.close();
    }
    k = (k + 1) % bodies.size();
  }
  for (std::size_t i = 0; i < on.size(); ++i)
    out.expected[i].second = on[i];
}

/// Checks, through `GET /api/Agent`, that every agent's `Blackout.Active`
/// matches the last acknowledged command.
void verify_blackouts(const server_process& srv,
                      const std::vector<thread_result>& threads,
                      mode_result& res) {
  http_client api = srv.api();
  for (auto& t : threads)
    for (auto& [id, active] : t.expected) {
      ++res.verified;
      auto r = api.get("/api/Agent?agentIdentifier=Id&value="
                       + std::to_string(id));
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      const bool ok = r.status == 200 && !d.HasParseError() && d.IsObject()
                      && d.HasMember("Blackout") && d["Blackout"].IsObject()
                      && d["Blackout"].HasMember("Active")
                      && d["Blackout"]["Active"].IsBool()
                      && d["Blackout"]["Active"].GetBool() == active;
      if (!ok) {
        if (res.mismatches == 0)
          std::printf("  mismatch: agent %" PRIu64 " expected Active=%s, "
                      "got %d %s\n",
                      id, active ? "true" : "false", r.status,
                      r.body.substr(0, 300).c_str());
        ++res.mismatches;
      }
    }
}

mode_result run_mode(const options& o, bool sync) {
  mode_result res;
  res.sync = sync;
  const std::string cfg_dir = rapi::test::make_temp_dir("rapi-bench-cfg");
  const std::string cfg = cfg_dir + "/recording-api.json";
  write_text_file(cfg, std::string("{\"storage\":{\"sync\":")
                         + (sync ? "true" : "false") + "}}");
  server_options so;
  so.extra_args = {"--config", cfg};
  std::printf("[%s] starting the server (storage.sync=%s)\n",
              sync ? "sync" : "async", sync ? "true" : "false");
  std::fflush(stdout);
  auto t0 = clock::now();
  server_process srv(so);
  res.start_ms = ms_since(t0);
  rapi::test::remove_dir(cfg_dir); // read at start-up only

  http_client admin = srv.admin();
  res.provision_ms = provision_range(admin, 1, o.agents + 1);

  const auto launch = clock::now();
  const auto from = launch
                    + std::chrono::duration_cast<clock::duration>(
                      std::chrono::duration<double>(o.warmup));
  const auto end = from
                   + std::chrono::duration_cast<clock::duration>(
                     std::chrono::duration<double>(o.seconds));
  std::vector<thread_result> per(o.threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < o.threads; ++t)
    pool.emplace_back([&, t] {
      client_loop(srv, 1 + t, o.threads, o.agents, from, end, per[t]);
    });
  std::printf("[%s] %u threads x %.1f s (after %.1f s warm-up) on %" PRIu64
              " agents...\n",
              sync ? "sync" : "async", o.threads, o.seconds, o.warmup,
              o.agents);
  std::fflush(stdout);
  for (auto& t : pool)
    t.join();
  res.measured_s = o.seconds;

  std::vector<double> all, starts, stops;
  for (auto& t : per) {
    starts.insert(starts.end(), t.start_ms.begin(), t.start_ms.end());
    stops.insert(stops.end(), t.stop_ms.begin(), t.stop_ms.end());
    res.all_requests += t.all_requests;
    res.errors += t.errors;
    res.exceptions += t.exceptions;
    for (auto& [status, n] : t.error_statuses)
      res.error_statuses[status] += n;
    if (res.first_error.empty())
      res.first_error = t.first_error;
  }
  all = starts;
  all.insert(all.end(), stops.begin(), stops.end());
  res.requests = all.size();
  res.req_per_s = static_cast<double>(res.requests) / o.seconds;
  res.latency = summarize(all);
  res.start_latency = summarize(starts);
  res.stop_latency = summarize(stops);

  verify_blackouts(srv, per, res);
  res.memory = read_mem(srv.pid());
  res.data_dir_mib =
    static_cast<double>(dir_bytes(srv.data_dir())) / 1048576.0;
  res.exit_code = srv.stop(SIGTERM, std::chrono::seconds(60));
  std::printf("[%s] %.0f req/s, p50 %.2f ms, p99 %.2f ms, max %.1f ms, "
              "%" PRIu64 " errors, %" PRIu64 " exceptions, %" PRIu64
              " mismatches; exit %d\n",
              sync ? "sync" : "async", res.req_per_s, res.latency.p50,
              res.latency.p99, res.latency.max, res.errors, res.exceptions,
              res.mismatches, res.exit_code);
  if (!res.first_error.empty())
    std::printf("[%s] first error: %s\n", sync ? "sync" : "async",
                res.first_error.c_str());
  std::fflush(stdout);
  return res;
}

// -- output ------------------------------------------------------------------

void write_mode(json_writer& w, const mode_result& m) {
  w.StartObject();
  w.Key("storage_sync");
  w.Bool(m.sync);
  w.Key("server_start_ms");
  w.Double(m.start_ms);
  w.Key("provision_ms");
  w.Double(m.provision_ms);
  w.Key("measured_s");
  w.Double(m.measured_s);
  w.Key("requests");
  w.Uint64(m.requests);
  w.Key("requests_incl_warmup");
  w.Uint64(m.all_requests);
  w.Key("req_per_s");
  w.Double(m.req_per_s);
  w.Key("errors");
  w.Uint64(m.errors);
  w.Key("exceptions");
  w.Uint64(m.exceptions);
  w.Key("error_statuses");
  w.StartObject();
  for (auto& [status, n] : m.error_statuses) {
    w.Key(std::to_string(status).c_str());
    w.Uint64(n);
  }
  w.EndObject();
  w.Key("first_error");
  w.String(m.first_error.c_str());
  w.Key("latency");
  write_summary(w, m.latency);
  w.Key("start_latency");
  write_summary(w, m.start_latency);
  w.Key("stop_latency");
  write_summary(w, m.stop_latency);
  w.Key("verified_agents");
  w.Uint64(m.verified);
  w.Key("blackout_mismatches");
  w.Uint64(m.mismatches);
  w.Key("rss_mib");
  w.Double(kib_to_mib(m.memory.rss_kib));
  w.Key("data_dir_mib");
  w.Double(m.data_dir_mib);
  w.Key("exit_code");
  w.Int(m.exit_code);
  w.EndObject();
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

std::string to_json(const options& o, const fsync_probe_result& probe,
                    const mode_result& async, const mode_result& sync) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  begin_results(w, "durability");
  w.Key("params");
  w.StartObject();
  w.Key("quick");
  w.Bool(o.quick);
  w.Key("agents");
  w.Uint64(o.agents);
  w.Key("threads");
  w.Uint(o.threads);
  w.Key("seconds");
  w.Double(o.seconds);
  w.Key("warmup_s");
  w.Double(o.warmup);
  w.EndObject();
  w.Key("fsync_probe_4k_append");
  write_summary(w, probe.append);
  w.Key("fsync_probe_4k_overwrite");
  write_summary(w, probe.overwrite);
  w.Key("modes");
  w.StartArray();
  write_mode(w, async);
  write_mode(w, sync);
  w.EndArray();
  w.Key("sync_over_async");
  w.StartObject();
  w.Key("req_per_s");
  w.Double(ratio(sync.req_per_s, async.req_per_s));
  w.Key("p50");
  w.Double(ratio(sync.latency.p50, async.latency.p50));
  w.Key("p99");
  w.Double(ratio(sync.latency.p99, async.latency.p99));
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

void print_table(const options& o, const fsync_probe_result& probe,
                 const mode_result& a, const mode_result& s) {
  std::printf("\ndurability-bench: %u threads, %" PRIu64
              " agents, %.1f s per mode; 4 KiB + fdatasync p50: append "
              "%.2f ms, overwrite %.2f ms\n",
              o.threads, o.agents, o.seconds, probe.append.p50,
              probe.overwrite.p50);
  std::printf("  %-14s %10s %9s %9s %9s %9s %8s %10s\n", "mode", "req/s",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
              "mismatch");
  for (const mode_result* m : {&a, &s})
    std::printf("  %-14s %10.0f %9.2f %9.2f %9.2f %9.1f %8" PRIu64
                " %10" PRIu64 "\n",
                m->sync ? "sync=true" : "sync=false", m->req_per_s,
                m->latency.p50, m->latency.p90, m->latency.p99,
                m->latency.max, m->errors + m->exceptions, m->mismatches);
  std::printf("  %-14s %10.2f %9.2f %9s %9.2f\n\n", "sync/async",
              ratio(s.req_per_s, a.req_per_s),
              ratio(s.latency.p50, a.latency.p50), "",
              ratio(s.latency.p99, a.latency.p99));
}

int run(const options& o) {
  std::printf("durability-bench: server %s\n",
              rapi::test::binary_path().c_str());
  const fsync_probe_result probe = fsync_probe(o.quick ? 20 : 100);
  std::printf("[fsync] 4 KiB + fdatasync: append p50 %.2f ms / p99 %.2f "
              "ms, overwrite p50 %.2f ms / p99 %.2f ms\n",
              probe.append.p50, probe.append.p99, probe.overwrite.p50,
              probe.overwrite.p99);
  const mode_result async = run_mode(o, false);
  const mode_result sync = run_mode(o, true);
  print_table(o, probe, async, sync);
  write_text_file(o.out, to_json(o, probe, async, sync));
  std::printf("results: %s\n", o.out.c_str());
  const bool wrong = async.errors || async.exceptions || async.mismatches
                     || sync.errors || sync.exceptions || sync.mismatches
                     || async.exit_code != 0 || sync.exit_code != 0;
  if (wrong)
    std::printf("** the server gave errors or wrong state (see above) **\n");
  return wrong ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  return rapi::bench::bench_main<options>(argc, argv, "durability-bench", usage_text,
                                          parse_options, run);
}
