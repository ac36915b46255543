/// recording-bench: throughput and latency of the server against a
/// same-run RESTinio baseline (issue "Performance", parts 1 and 2).
///
/// Scenarios (`--scenarios`, default all):
/// - `status`: GET /api/Agent by Phone over N agents;
/// - `lifecycle`: N agents each walking a call script (CTI CallStarted,
///   Record/Start, metadata Update, Blackout start/stop, Record/Stop, CTI
///   CallEnded; screen and duplicate recordings on a share of calls),
///   after every agent made `--prime-calls` calls unmeasured, so that it
///   carries the history of a working day;
/// - `getall`: GET /api/Agent/GetAll at 10k and 100k agents;
/// - `provision`: 1M agents provisioned in bulk, restart, time to serving
///   (runs recovery-bench and folds its JSON in).
///
/// `status` and `lifecycle` run against baseline-server (RESTinio answering
/// a fixed 200 body) and the real server with identical client settings:
/// both are started and primed, their closed-loop runs (the maximum rate)
/// alternate, baseline then server, and then each target's open-loop steps
/// run at fractions of its maximum (latency from the scheduled send time). The
/// load comes from `load_client.hpp` (epoll, keep-alive, no pipelining).
///
/// Before each load phase it waits for other processes to go quiet and
/// measures a phase again when they disturbed it (`--quiet-wait`,
/// `--retries`): the client shares the machine with the server.
///
/// Prints progress and a table and writes JSON (`--out`). With `--render
/// JSON` it instead turns a result file into `docs/performance.md` and the
/// latency chart (`--markdown`, `--svg`). Exit code 1 when the server gave
/// wrong answers (non-200, broken responses); targets never fail the run.

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include "bench/bench_util.hpp"
#include "bench/load_client.hpp"
#include "bench/perf_report.hpp"
#include "bench/server_child.hpp"
#include "bench/stall_probe.hpp"
#include "bench/workloads.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

#ifndef RAPI_BASELINE_BINARY
#define RAPI_BASELINE_BINARY "baseline-server"
#endif
#ifndef RAPI_RECOVERY_BENCH
#define RAPI_RECOVERY_BENCH "recovery-bench"
#endif

namespace {

using namespace rapi::bench;
using rapi::test::http_client;

// -- options -----------------------------------------------------------------

/// Command-line options.
struct options {
  std::vector<std::string> scenarios{"status", "lifecycle", "getall",
                                     "provision"};
  std::uint64_t agents = 10'000;
  std::uint64_t lifecycle_agents = 1'000;
  std::uint64_t prime_calls = 32;
  unsigned connections = 32;
  unsigned open_connections = 256;
  unsigned client_threads = 1;
  double seconds = 5;
  double warmup = 1;
  double step_seconds = 3;
  /// The step at half the maximum: its p99 is a target, and a few seconds
  /// hold a memtable flush or a compaction or not, by chance.
  double half_step_seconds = 10;
  double step_warmup = 0.5;
  std::vector<double> steps{0.1, 0.25, 0.5, 0.75, 0.9};
  double screen_share = 0.3;
  double duplicate_share = 0.2;
  double late_ms = 1;
  std::vector<std::uint64_t> getall_sizes{10'000, 100'000};
  unsigned getall_runs = 5;
  std::uint64_t provision_agents = 1'000'000;
  std::uint64_t provision_active = 0;
  /// baseline-server threads: the server's default `server.threads`.
  unsigned server_threads = 2;
  bool run_baseline = true;
  bool run_server = true;
  double quiet_wait = 60;
  /// Seconds of the idle-machine stall probe, before and after the loads
  /// (bench/stall_probe.hpp); 0: none.
  double stall_probe = 5;
  unsigned retries = 2;
  /// Closed-loop measurements per target; the median one counts.
  unsigned closed_runs = 3;
  /// Measurements of the step at half the maximum per target; the one
  /// with the median p99 counts (and every p99 is reported).
  unsigned half_runs = 3;
  /// > 0: the rate the open-loop steps are fractions of, instead of the
  /// measured closed-loop maximum (to compare builds at equal rates).
  double open_max = 0;
  double max_other = 15;
  std::string server_log;
  std::string commit;
  std::string out = default_result_path("recording.json");
  bool quick = false;
  // --render
  std::string render;
  std::string markdown;
  std::string svg;
  std::string notes;
};

const char* const usage_text =
  "usage: recording-bench [--quick] [--scenarios LIST] [--targets LIST]\n"
  "         [--agents N] [--lifecycle-agents N] [--prime-calls N]\n"
  "         [--connections N] [--open-connections N] [--client-threads N]\n"
  "         [--seconds S] [--warmup S] [--step-seconds S] [--step-warmup S]\n"
  "         [--half-step-seconds S]\n"
  "         [--steps LIST] [--screen-share F] [--duplicate-share F]\n"
  "         [--late-ms MS] [--getall-sizes LIST] [--getall-runs N]\n"
  "         [--provision-agents N] [--provision-active N]\n"
  "         [--quiet-wait S] [--stall-probe S] [--retries N]\n"
  "         [--max-other PCT]\n"
  "         [--closed-runs N] [--server-log LEVEL] [--commit TEXT]\n"
  "         [--out FILE]\n"
  "       recording-bench --render JSON [--markdown FILE] [--svg FILE]\n"
  "         [--notes FILE]\n"
  "  --scenarios LIST      status,lifecycle,getall,provision (default all)\n"
  "  --targets LIST        baseline,server (default both; one alone for\n"
  "                        profiling: no ratio then)\n"
  "  --agents N            agents of status (default 10000; quick 200)\n"
  "  --lifecycle-agents N  agents of lifecycle (default 1000; quick 200)\n"
  "  --prime-calls N       lifecycle: calls every agent makes before the\n"
  "                        measurements (not measured), so that agents\n"
  "                        carry the recent recordings and blackouts a\n"
  "                        working agent has (default 32; quick 1)\n"
  "  --connections N       closed-loop connections (default 32; quick 16)\n"
  "  --open-connections N  open-loop connections (default 256; quick 64)\n"
  "  --client-threads N    load generator threads (default 1)\n"
  "  --seconds S           closed loop, measured (default 5; quick 1)\n"
  "  --warmup S            closed loop, before it (default 1; quick 0.3)\n"
  "  --step-seconds S      each open-loop step, measured (default 3;\n"
  "                        quick 0.5)\n"
  "  --half-step-seconds S the step at half the maximum, whose p99 is a\n"
  "                        target, measured: long enough to hold the\n"
  "                        server's periodic flushes and compactions in\n"
  "                        proportion (default 10; quick 0.5)\n"
  "  --step-warmup S       each open-loop step, before it (default 0.5;\n"
  "                        quick 0.2)\n"
  "  --steps LIST          open-loop rates as fractions of the closed-loop\n"
  "                        maximum (default 0.1,0.25,0.5,0.75,0.9; quick\n"
  "                        0.25,0.5; 0.5 is always added)\n"
  "  --screen-share F      lifecycle calls with a screen recording (0.3)\n"
  "  --duplicate-share F   lifecycle calls with a duplicate recording (0.2)\n"
  "  --late-ms MS          open-loop sends later than this count as late (1)\n"
  "  --getall-sizes LIST   agent counts GetAll is timed at (default\n"
  "                        10000,100000; quick 1000,5000)\n"
  "  --getall-runs N       GetAll requests per size (default 5)\n"
  "  --provision-agents N  agents of the provision scenario (default\n"
  "                        1000000; quick: recovery-bench --quick)\n"
  "  --provision-active N  of them given a live call (default 0: idle)\n"
  "  --quiet-wait S        before each load phase, wait up to S seconds\n"
  "                        for other processes to go quiet (default 60;\n"
  "                        quick 0)\n"
  "  --stall-probe S       before the loads and after them, a thread on\n"
  "                        each CPU reads the clock for S seconds and the\n"
  "                        gaps it sees (the machine's own stalls) are\n"
  "                        reported beside the latency targets (default\n"
  "                        5; quick 0.2; 0: no probe)\n"
  "  --retries N           measure a phase again (up to N times) when\n"
  "                        other processes used more than --max-other %\n"
  "                        of a core meanwhile; the least disturbed\n"
  "                        attempt counts (default 2; quick 0)\n"
  "  --max-other PCT       see --retries (default 15)\n"
  "  --closed-runs N       measure each target's closed loop N times, the\n"
  "                        two targets' runs alternating; the run with\n"
  "                        the median req/s counts, so one slow or fast\n"
  "                        moment of the machine does not decide a ratio\n"
  "                        (default 3; quick 1)\n"
  "  --half-runs N         measure each target's step at half the maximum\n"
  "                        N times, one after the other; the run with the\n"
  "                        median p99 counts and every p99 is reported\n"
  "                        (default 3; quick 1)\n"
  "  --open-max R          the open-loop steps are fractions of R req/s\n"
  "                        instead of the measured maximum: compares\n"
  "                        builds at equal rates (the p99 target is then\n"
  "                        reported at half of R)\n"
  "  --server-log LEVEL    the server's log.level (default: its default,\n"
  "                        info, one line per request to a pipe)\n"
  "  --commit TEXT         recorded in the results (scripts/bench.sh)\n"
  "  --out FILE            JSON results (default bench/results/recording."
  "json)\n"
  "  --quick               seconds, small N (the test suite runs this)\n"
  "  --render JSON         write --markdown / --svg from a result file\n"
  "  --notes FILE          markdown appended to the report (profile notes)\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  if (!cur.empty())
    out.push_back(cur);
  return out;
}

std::vector<double> split_reals(const std::string& s, const char* flag) {
  std::vector<double> out;
  for (auto& t : split(s)) {
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (*end != '\0' || !(v > 0))
      throw std::invalid_argument(std::string(flag) + ": bad number '" + t
                                  + "'");
    out.push_back(v);
  }
  return out;
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") {
      o.quick = true;
      o.agents = 200;
      o.lifecycle_agents = 200;
      o.prime_calls = 1;
      o.connections = 16;
      o.open_connections = 64;
      o.seconds = 1;
      o.warmup = 0.3;
      o.step_seconds = 0.5;
      o.half_step_seconds = 0.5;
      o.step_warmup = 0.2;
      o.steps = {0.25, 0.5};
      o.getall_sizes = {1'000, 5'000};
      o.getall_runs = 3;
      o.quiet_wait = 0;
      o.stall_probe = 0.2;
      o.retries = 0;
      o.closed_runs = 1;
      o.half_runs = 1;
    }
  arg_reader a(argc, argv);
  std::string text;
  while (a.more()) {
    if (a.flag("--quick") || a.number("--agents", o.agents)
        || a.number("--lifecycle-agents", o.lifecycle_agents)
        || a.number("--prime-calls", o.prime_calls)
        || a.number("--connections", o.connections)
        || a.number("--open-connections", o.open_connections)
        || a.number("--client-threads", o.client_threads)
        || a.real("--seconds", o.seconds) || a.real("--warmup", o.warmup)
        || a.real("--step-seconds", o.step_seconds)
        || a.real("--half-step-seconds", o.half_step_seconds)
        || a.real("--step-warmup", o.step_warmup)
        || a.real("--screen-share", o.screen_share)
        || a.real("--duplicate-share", o.duplicate_share)
        || a.real("--late-ms", o.late_ms)
        || a.number("--getall-runs", o.getall_runs)
        || a.number("--provision-agents", o.provision_agents)
        || a.number("--provision-active", o.provision_active)
        || a.real("--quiet-wait", o.quiet_wait)
        || a.real("--stall-probe", o.stall_probe)
        || a.number("--retries", o.retries)
        || a.number("--closed-runs", o.closed_runs)
        || a.number("--half-runs", o.half_runs)
        || a.real("--max-other", o.max_other)
        || a.real("--open-max", o.open_max)
        || a.value("--server-log", o.server_log)
        || a.value("--commit", o.commit) || a.value("--out", o.out)
        || a.value("--render", o.render)
        || a.value("--markdown", o.markdown) || a.value("--svg", o.svg)
        || a.value("--notes", o.notes))
      continue;
    if (a.value("--scenarios", text)) {
      o.scenarios = split(text);
      for (auto& s : o.scenarios)
        if (s != "status" && s != "lifecycle" && s != "getall"
            && s != "provision")
          throw std::invalid_argument("unknown scenario '" + s + "'");
      continue;
    }
    if (a.value("--targets", text)) {
      o.run_baseline = o.run_server = false;
      for (auto& t : split(text)) {
        if (t == "baseline")
          o.run_baseline = true;
        else if (t == "server")
          o.run_server = true;
        else
          throw std::invalid_argument("unknown target '" + t + "'");
      }
      continue;
    }
    if (a.value("--steps", text)) {
      o.steps = split_reals(text, "--steps");
      continue;
    }
    if (a.value("--getall-sizes", text)) {
      o.getall_sizes.clear();
      for (double v : split_reals(text, "--getall-sizes"))
        o.getall_sizes.push_back(static_cast<std::uint64_t>(v));
      continue;
    }
    if (a.flag("--help") || a.flag("-h")) {
      std::cout << usage_text;
      std::exit(0);
    }
    throw std::invalid_argument("unknown option '" + a.current() + "'");
  }
  if (o.agents == 0 || o.lifecycle_agents == 0 || o.connections == 0
      || o.open_connections == 0 || o.client_threads == 0 || o.seconds <= 0
      || o.step_seconds <= 0 || o.half_step_seconds <= 0)
    throw std::invalid_argument(
      "--agents, --lifecycle-agents, --connections, --open-connections, "
      "--client-threads, --seconds, --step-seconds and --half-step-seconds "
      "must be > 0");
  if (o.agents < o.client_threads || o.lifecycle_agents < o.client_threads)
    throw std::invalid_argument(
      "--agents and --lifecycle-agents must be >= --client-threads");
  if (o.stall_probe < 0 || o.stall_probe > 600)
    throw std::invalid_argument("--stall-probe must be 0 to 600 seconds");
  if (std::find(o.steps.begin(), o.steps.end(), 0.5) == o.steps.end())
    o.steps.push_back(0.5);
  std::sort(o.steps.begin(), o.steps.end());
  std::sort(o.getall_sizes.begin(), o.getall_sizes.end());
  if (o.screen_share > 1 || o.duplicate_share > 1)
    throw std::invalid_argument("shares are fractions (0..1)");
  return o;
}

bool wants(const options& o, const char* scenario) {
  return std::find(o.scenarios.begin(), o.scenarios.end(), scenario)
         != o.scenarios.end();
}

// -- machine and CPU accounting ----------------------------------------------

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}


std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

double mem_total_mib() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("MemTotal:", 0) == 0)
      return static_cast<double>(std::strtol(line.c_str() + 9, nullptr, 10))
             / 1024.0;
  return -1;
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? std::string(u.release) : "unknown";
}

/// CPU seconds (user + system) per thread of a process, by thread id, with
/// the thread's name.
struct thread_cpu {
  std::string name;
  double seconds = 0;
};
using cpu_sample = std::map<long, thread_cpu>;

/// utime + stime of /proc/<pid>/task/<tid>/stat (or of the process when
/// `tid` is 0), in seconds; fills `name` with the comm.
double read_stat_cpu(pid_t pid, long tid, std::string* name) {
  const std::string path =
    "/proc/" + std::to_string(pid)
    + (tid ? "/task/" + std::to_string(tid) : std::string()) + "/stat";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos)
    return 0;
  if (name)
    *name = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime)
         / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

cpu_sample sample_threads(pid_t pid) {
  cpu_sample s;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      const long tid = std::strtol(e->d_name, nullptr, 10);
      thread_cpu t;
      t.seconds = read_stat_cpu(pid, tid, &t.name);
      s[tid] = t;
    }
    ::closedir(d);
  }
  return s;
}

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
             / 1e6;
}

/// Jiffies of the whole machine from the first line of /proc/stat.
struct machine_sample {
  double total = 0;
  double idle = 0; ///< idle + iowait
  double irq = 0;  ///< irq + softirq (not charged to any process)
  double steal = 0; ///< the hypervisor ran something else instead
};

machine_sample sample_machine() {
  machine_sample m;
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double v[10] = {};
  for (int i = 0; i < 10 && in >> v[i]; ++i) {
  }
  // user nice system idle iowait irq softirq steal guest guest_nice
  for (int i = 0; i < 8; ++i)
    m.total += v[i];
  m.idle = v[3] + v[4];
  m.irq = v[5] + v[6];
  m.steal = v[7];
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  m.total /= hz;
  m.idle /= hz;
  m.irq /= hz;
  m.steal /= hz;
  return m;
}

/// `wchar` and `write_bytes` of /proc/<pid>/io (bytes handed to write
/// calls, bytes sent to the block layer).
std::pair<double, double> sample_io(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  double value = 0, wchar = 0, written = 0;
  while (in >> key >> value) {
    if (key == "wchar:")
      wchar = value;
    else if (key == "write_bytes:")
      written = value;
  }
  return {wchar, written};
}

/// Per thread-name CPU % between two samples (100 = one core busy).
std::map<std::string, double> thread_usage(const cpu_sample& a,
                                           const cpu_sample& b,
                                           double seconds) {
  std::map<std::string, double> out;
  for (auto& [tid, t] : b) {
    auto it = a.find(tid);
    const double before = it == a.end() ? 0 : it->second.seconds;
    out[t.name] += (t.seconds - before) / seconds * 100.0;
  }
  return out;
}

// -- one load phase ----------------------------------------------------------

/// One closed-loop run or open-loop step against one target.
struct phase_result {
  bool open = false;
  double fraction = 0;    ///< open: of the closed-loop maximum
  double offered = 0;     ///< open: requests/s scheduled
  unsigned connections = 0;
  double seconds = 0;
  double req_per_s = 0;   ///< answers per second inside the window
  load_stats stats;       ///< latency samples sorted by summarize()
  latency_summary latency;
  latency_summary service; ///< open: from the actual send
  std::vector<std::pair<std::string, latency_summary>> per_op;
  double server_cpu = 0; ///< % of one core
  double client_cpu = 0;
  std::map<std::string, double> server_threads;
  double machine_busy = 0; ///< % of one core, all cores together
  double irq = 0;          ///< of which irq + softirq
  double steal = 0;        ///< time the hypervisor ran something else
  double others = 0; ///< busy - irq - steal - server - client: other load
  unsigned attempts = 1;   ///< measurements made (see --retries)
  bool disturbed = false;  ///< others > --max-other
  double window_unix_ms = 0; ///< wall clock at the window's start
  double wchar_per_req = 0;   ///< server: bytes to write() per answer
  double written_per_req = 0; ///< server: bytes to the block layer
  mem_info memory;
};

/// Everything known about the process under load.
struct target_info {
  pid_t pid = -1;
  std::uint16_t port = 0;
};

const char* const rule =
  "----------------------------------------------------------------------";

phase_result run_phase(const std::string& label, const target_info& t,
                       std::vector<std::unique_ptr<workload>>& loads,
                       const options& o, bool open, double rate,
                       double fraction) {
  phase_result res;
  res.open = open;
  res.fraction = fraction;
  res.offered = rate;
  res.connections = open ? o.open_connections : o.connections;
  const double warm = open ? o.step_warmup : o.warmup;
  const double secs = !open             ? o.seconds
                      : fraction == 0.5 ? o.half_step_seconds
                                        : o.step_seconds;
  res.seconds = secs;
  const unsigned k = static_cast<unsigned>(loads.size());

  load_progress progress;
  std::vector<std::unique_ptr<load_worker>> workers;
  for (unsigned i = 0; i < k; ++i) {
    load_settings s;
    s.port = t.port;
    s.connections = std::max(1u, res.connections / k
                                   + (i < res.connections % k ? 1 : 0));
    s.rate = open ? rate / k : 0;
    s.offset_s = open ? i / rate : 0;
    s.late_ms = o.late_ms;
    workers.push_back(std::make_unique<load_worker>(*loads[i], s, progress));
    workers.back()->connect_all();
  }
  // The schedule starts once every connection is open.
  const auto start = clock::now() + std::chrono::milliseconds(20);
  auto at = [&](double s) {
    return start
           + std::chrono::duration_cast<clock::duration>(
             std::chrono::duration<double>(s));
  };
  for (auto& w : workers)
    w->set_window(start, at(warm), at(warm + secs));
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });

  // Progress once a second; CPU samples at the window's edges.
  const auto from = at(warm);
  const auto end = at(warm + secs);
  cpu_sample cpu_a, cpu_b;
  double self_a = 0, self_b = 0;
  machine_sample mach_a, mach_b;
  std::pair<double, double> io_a, io_b;
  bool sampled_a = false, sampled_b = false;
  auto next_print = start + std::chrono::seconds(1);
  std::uint64_t last_answers = 0;
  auto last_t = start;
  const bool verbose = warm + secs >= 2;
  while (!sampled_b) {
    std::this_thread::sleep_until(
      std::min(next_print, sampled_a ? end : from));
    const auto now = clock::now();
    if (!sampled_a && now >= from) {
      res.window_unix_ms = static_cast<double>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
      cpu_a = sample_threads(t.pid);
      self_a = self_cpu_seconds();
      mach_a = sample_machine();
      io_a = sample_io(t.pid);
      sampled_a = true;
    }
    if (sampled_a && !sampled_b && now >= end) {
      cpu_b = sample_threads(t.pid);
      self_b = self_cpu_seconds();
      mach_b = sample_machine();
      io_b = sample_io(t.pid);
      sampled_b = true;
      res.memory = read_mem(t.pid);
    }
    if (now >= next_print) {
      const std::uint64_t answers = progress.answers.load();
      if (verbose)
        std::printf("  [%s] %4.1f/%.1f s  %8.0f req/s  %" PRIu64
                    " errors  RSS %.0f MiB\n",
                    label.c_str(), ms_between(start, now) / 1000.0,
                    warm + secs,
                    static_cast<double>(answers - last_answers)
                      / (ms_between(last_t, now) / 1000.0),
                    progress.errors.load(),
                    kib_to_mib(read_mem(t.pid).rss_kib));
      std::fflush(stdout);
      last_answers = answers;
      last_t = now;
      next_print += std::chrono::seconds(1);
    }
  }
  for (auto& th : threads)
    th.join();

  for (auto& w : workers)
    merge_stats(res.stats, w->stats());
  std::vector<double> all;
  for (std::size_t op = 0; op < res.stats.op_ms.size(); ++op) {
    auto& v = res.stats.op_ms[op];
    all.insert(all.end(), v.begin(), v.end());
    if (!v.empty())
      res.per_op.emplace_back(loads[0]->op_name(op), summarize(v));
  }
  res.latency = summarize(all);
  res.service = summarize(res.stats.service_ms);
  res.req_per_s = static_cast<double>(res.stats.completed_in_window) / secs;
  const double window = ms_between(from, end) / 1000.0;
  res.server_cpu = 0;
  res.server_threads = thread_usage(cpu_a, cpu_b, window);
  for (auto& [name, pct] : res.server_threads)
    res.server_cpu += pct;
  res.client_cpu = (self_b - self_a) / window * 100.0;
  res.machine_busy = ((mach_b.total - mach_a.total)
                      - (mach_b.idle - mach_a.idle))
                     / window * 100.0;
  res.irq = (mach_b.irq - mach_a.irq) / window * 100.0;
  res.steal = (mach_b.steal - mach_a.steal) / window * 100.0;
  res.others = std::max(0.0, res.machine_busy - res.irq - res.steal
                               - res.server_cpu - res.client_cpu);
  res.disturbed = res.others > o.max_other;
  const double answers = static_cast<double>(
    std::max<std::uint64_t>(1, res.stats.completed_in_window));
  res.wchar_per_req = (io_b.first - io_a.first) / answers;
  res.written_per_req = (io_b.second - io_a.second) / answers;
  return res;
}

/// Waits up to `max_s` seconds until the machine is quiet: less than
/// `max_other` % of one core busy over a second (the target under test is
/// idle between phases). Returns whether it got quiet.
bool wait_quiet(double max_s, double max_other) {
  if (max_s <= 0)
    return true;
  const auto until = clock::now()
                     + std::chrono::duration_cast<clock::duration>(
                       std::chrono::duration<double>(max_s));
  auto next_note = clock::now() + std::chrono::seconds(10);
  for (;;) {
    const machine_sample a = sample_machine();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const machine_sample b = sample_machine();
    const double busy =
      ((b.total - a.total) - (b.idle - a.idle)) / 0.5 * 100.0;
    if (busy <= max_other)
      return true;
    if (clock::now() >= until) {
      std::printf("  [quiet-wait] other load still %.0f%% of a core; going "
                  "on\n",
                  busy);
      return false;
    }
    if (clock::now() >= next_note) {
      std::printf("  [quiet-wait] other load %.0f%% of a core; waiting\n",
                  busy);
      std::fflush(stdout);
      next_note += std::chrono::seconds(10);
    }
  }
}

/// One run of the stall probe (bench/stall_probe.hpp).
struct stall_run {
  std::string when;
  std::vector<stall_profile> cpus;
  double steal_pct = 0; ///< of every CPU's time meanwhile, from /proc/stat
  std::string summary;  ///< one line, as printed and rendered
};

/// Waits for a quiet machine, then probes it for `o.stall_probe` seconds.
stall_run probe_machine(const options& o, const char* when) {
  stall_run r;
  r.when = when;
  wait_quiet(o.quiet_wait, o.max_other);
  const machine_sample a = sample_machine();
  r.cpus = probe_stalls(o.stall_probe);
  const machine_sample b = sample_machine();
  if (b.total > a.total)
    r.steal_pct = (b.steal - a.steal) / (b.total - a.total) * 100.0;
  for (auto& c : r.cpus) {
    r.summary += (r.summary.empty() ? "" : "; ")
                 + (c.cpu >= 0 ? "CPU " + std::to_string(c.cpu)
                               : std::string("a thread"))
                 + fmt(": longest %.1f ms", c.longest_ms);
    for (std::size_t i : {std::size_t{1}, std::size_t{2}})
      r.summary += fmt(", > %g ms", stall_profile::thresholds_ms[i])
                   + fmt(" %.2f ms/s", c.ms_per_s(i))
                   + " (" + std::to_string(c.count[i]) + ")";
  }
  r.summary += fmt("; steal %.1f %%", r.steal_pct);
  std::printf("  [machine stalls, idle, %s] %s\n", when, r.summary.c_str());
  std::fflush(stdout);
  return r;
}

void print_phase_line(const std::string& label, const phase_result& p);

/// `run_phase`, after waiting for a quiet machine, and again (up to
/// `o.retries` times) while other processes disturbed it; keeps the least
/// disturbed attempt.
phase_result measure_phase(const std::string& label, const target_info& t,
                           std::vector<std::unique_ptr<workload>>& loads,
                           const options& o, bool open, double rate,
                           double fraction) {
  std::optional<phase_result> best;
  for (unsigned attempt = 0;; ++attempt) {
    wait_quiet(o.quiet_wait, o.max_other);
    phase_result r = run_phase(label, t, loads, o, open, rate, fraction);
    if (!best || r.others < best->others)
      best = std::move(r);
    best->attempts = attempt + 1;
    if (best->others <= o.max_other || attempt >= o.retries)
      break;
    print_phase_line(label, *best);
    std::printf("  [%s] other processes used %.0f%% of a core: measuring "
                "again\n",
                label.c_str(), best->others);
    std::fflush(stdout);
  }
  return std::move(*best);
}

void print_phase_line(const std::string& label, const phase_result& p) {
  std::printf("  [%s] %s%8.0f req/s  p50 %.3f  p99 %.3f  p99.9 %.3f ms  "
              "%" PRIu64 " errors  %" PRIu64 " failures",
              label.c_str(),
              p.open ? ("offered " + std::to_string(static_cast<long>(
                                       p.offered))
                        + "/s ->")
                         .c_str()
                     : "",
              p.req_per_s, p.latency.p50, p.latency.p99, p.latency.p999,
              p.stats.errors, p.stats.failures + p.stats.timeouts);
  if (p.open)
    std::printf("  (p99 from send %.3f ms)  late %" PRIu64 " waited %" PRIu64,
                p.service.p99, p.stats.late, p.stats.waited);
  std::printf("  CPU server %.0f%% client %.0f%% other %.0f%%\n",
              p.server_cpu, p.client_cpu, p.others);
  if (p.disturbed)
    std::printf("    ** other processes used %.0f%% CPU during this "
                "window: the numbers are disturbed **\n",
                p.others);
  for (auto& e : p.stats.first_errors)
    std::printf("    error: %s\n", e.c_str());
  std::fflush(stdout);
}

// -- one target (server or baseline) for one scenario ------------------------

struct target_result {
  std::string kind; ///< "server" or "baseline"
  double start_ms = 0;
  double provision_ms = 0;
  phase_result closed; ///< the median of the closed-loop runs
  std::vector<double> closed_runs; ///< req/s of every closed-loop run
  std::vector<phase_result> open;
  /// p99 (ms) of every run of the step at half the maximum, in run order.
  std::vector<double> half_runs_p99;
  std::uint64_t agents = 0;
  std::uint64_t calls = 0; ///< lifecycle: calls completed, priming included
  std::uint64_t primed_calls = 0;
  double prime_ms = 0;
  double prime_req_per_s = 0;
  mem_info memory_end;
  std::uint64_t log_bytes = 0;
  int exit_code = -1;
  std::string failure; ///< set when the run broke off
};

/// Lifecycle: drives the agents (closed loop, `o.connections`, nothing
/// measured) until each made exactly `o.prime_calls` calls.
void prime(const std::string& label, const target_info& t,
           std::vector<std::unique_ptr<workload>>& loads,
           const std::vector<lifecycle_workload*>& lifecycles,
           const options& o, target_result& r) {
  const std::uint64_t want = r.agents * o.prime_calls;
  auto calls = [&] {
    std::uint64_t n = 0;
    for (auto* l : lifecycles)
      n += l->calls();
    return n;
  };
  const std::uint64_t before = calls();
  for (auto* l : lifecycles)
    l->set_call_limit(o.prime_calls);
  std::atomic<bool> stop{false};
  load_progress progress;
  const auto t0 = clock::now();
  std::vector<std::unique_ptr<load_worker>> workers;
  const unsigned k = static_cast<unsigned>(loads.size());
  for (unsigned i = 0; i < k; ++i) {
    load_settings s;
    s.port = t.port;
    s.connections = std::max(1u, o.connections / k);
    s.start = s.from = t0;
    s.end = t0 + std::chrono::hours(24);
    s.stop = &stop;
    workers.push_back(std::make_unique<load_worker>(*loads[i], s, progress));
    workers.back()->connect_all();
  }
  std::printf("[%s] priming: every agent makes %" PRIu64 " calls first "
              "(%" PRIu64 " calls, not measured)\n",
              label.c_str(), o.prime_calls, want);
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });
  auto next = t0 + std::chrono::seconds(1);
  std::uint64_t last = 0;
  while (calls() - before < want) {
    std::this_thread::sleep_until(
      std::min(next, clock::now() + std::chrono::milliseconds(20)));
    if (clock::now() >= next) {
      const std::uint64_t answers = progress.answers.load();
      std::printf("  [%s prime] %" PRIu64 "/%" PRIu64 " calls, %8" PRIu64
                  " req/s, %" PRIu64 " errors, RSS %.0f MiB\n",
                  label.c_str(), calls() - before, want, answers - last,
                  progress.errors.load(), kib_to_mib(read_mem(t.pid).rss_kib));
      std::fflush(stdout);
      last = answers;
      next += std::chrono::seconds(1);
    }
  }
  stop = true;
  for (auto& th : threads)
    th.join();
  for (auto* l : lifecycles)
    l->lift_call_limit();
  r.prime_ms = ms_since(t0);
  r.primed_calls = calls() - before;
  r.prime_req_per_s = static_cast<double>(progress.answers.load())
                      / (r.prime_ms / 1000.0);
  std::uint64_t errors = 0;
  for (auto& w : workers) {
    errors += w->stats().errors + w->stats().failures;
    for (auto& e : w->stats().first_errors)
      std::printf("    error: %s\n", e.c_str());
  }
  std::printf("[%s] primed: %" PRIu64 " calls in %.1f s (%.0f req/s), %"
              PRIu64 " errors\n",
              label.c_str(), r.primed_calls, r.prime_ms / 1000.0,
              r.prime_req_per_s, errors);
  if (errors)
    throw std::runtime_error(std::to_string(errors)
                             + " errors while priming the agents");
}

std::vector<std::string> server_args(const std::string& dir) {
  return {"--port", "0", "--admin-port", "0", "--data-dir", dir};
}

/// The run with the median `key` (the lower middle one of an even count);
/// `runs` must not be empty.
template <class Key>
phase_result take_median(std::vector<phase_result>& runs, Key key) {
  std::sort(runs.begin(), runs.end(),
            [&](const phase_result& a, const phase_result& b) {
              return key(a) < key(b);
            });
  return std::move(runs[(runs.size() - 1) / 2]);
}

struct scenario_pair {
  std::string name;
  target_result baseline;
  target_result server;

  double ratio() const {
    return baseline.closed.req_per_s > 0
             ? server.closed.req_per_s / baseline.closed.req_per_s
             : 0;
  }
  /// The open-loop step at half the maximum.
  static const phase_result* half(const target_result& t) {
    for (auto& p : t.open)
      if (p.fraction == 0.5)
        return &p;
    return nullptr;
  }
};

/// One target of a scenario, alive from `open_target` to `close_target`:
/// its process, data folder and workloads. The two targets of a scenario
/// are open together so that their closed-loop runs can alternate.
struct target_session {
  std::string scenario;
  bool baseline = false;
  std::string label_base;
  std::string dir;
  std::optional<server_child> child;
  target_info info{};
  std::vector<std::unique_ptr<workload>> loads;
  std::vector<lifecycle_workload*> lifecycles;
  std::vector<phase_result> closed_runs;
  target_result r;

  bool failed() const { return !r.failure.empty(); }
  /// Records `e` as the failure and stops the process.
  void fail(const std::exception& e) {
    r.failure = e.what();
    std::printf("[%s] FAILED: %s\n", label_base.c_str(), e.what());
    std::fflush(stdout);
    child.reset();
  }
};

/// Starts the target, provisions its agents and primes them (lifecycle).
void open_target(target_session& s, const options& o) {
  auto& r = s.r;
  r.kind = s.baseline ? "baseline" : "server";
  r.agents = s.scenario == "lifecycle" ? o.lifecycle_agents : o.agents;
  s.label_base = s.scenario + " " + r.kind;
  std::printf("%s\n[%s] starting %s\n", rule, s.label_base.c_str(),
              s.baseline ? RAPI_BASELINE_BINARY
                         : rapi::test::binary_path().c_str());
  std::fflush(stdout);
  s.dir = rapi::test::make_temp_dir("rapi-bench-rec");
  server_child::env_list env;
  if (!o.server_log.empty() && !s.baseline)
    env.emplace_back("RECORDING_API__LOG__LEVEL", o.server_log);
  std::vector<std::string> args = server_args(s.dir);
  if (s.baseline) {
    args.push_back("--threads");
    args.push_back(std::to_string(o.server_threads));
  }
  auto t0 = clock::now();
  try {
    s.child.emplace(s.baseline ? RAPI_BASELINE_BINARY
                               : rapi::test::binary_path(),
                    args, env, std::chrono::minutes(2));
    r.start_ms = ms_since(t0);
    s.info = target_info{s.child->pid(), s.child->api_port()};

    if (!s.baseline) {
      http_client admin("127.0.0.1", s.child->admin_port());
      admin.set_timeout(std::chrono::minutes(5));
      t0 = clock::now();
      for (std::uint64_t next = 1; next <= r.agents;) {
        const std::uint64_t last = std::min(r.agents + 1, next + 50'000);
        provision_range(admin, next, last);
        next = last;
      }
      r.provision_ms = ms_since(t0);
      std::printf("[%s] %" PRIu64 " agents provisioned in %.0f ms\n",
                  s.label_base.c_str(), r.agents, r.provision_ms);
    }

    // One workload per client thread; lifecycle agents are split so that
    // each agent is driven by one thread only.
    for (unsigned i = 0; i < o.client_threads; ++i) {
      if (s.scenario == "status") {
        s.loads.push_back(
          std::make_unique<status_workload>(r.agents, 1000 + i));
      } else {
        std::vector<std::uint64_t> ids;
        for (std::uint64_t id = 1 + i; id <= r.agents;
             id += o.client_threads)
          ids.push_back(id);
        auto w = std::make_unique<lifecycle_workload>(
          std::move(ids), o.screen_share, o.duplicate_share, 2000 + i);
        s.lifecycles.push_back(w.get());
        s.loads.push_back(std::move(w));
      }
    }

    if (!s.lifecycles.empty() && o.prime_calls > 0)
      prime(s.label_base, s.info, s.loads, s.lifecycles, o, r);
  } catch (const std::exception& e) {
    s.fail(e);
  }
}

/// Closed-loop run `i` (0-based) of `o.closed_runs`.
void closed_run(target_session& s, unsigned i, const options& o) {
  if (s.failed())
    return;
  const std::string label = s.label_base + " closed";
  try {
    std::printf("[%s] closed loop, %u connections, %.1f s + %.1f s "
                "warm-up (run %u of %u)\n",
                label.c_str(), o.connections, o.seconds, o.warmup, i + 1,
                std::max(1u, o.closed_runs));
    std::fflush(stdout);
    s.closed_runs.push_back(
      measure_phase(label, s.info, s.loads, o, false, 0, 0));
    print_phase_line(label, s.closed_runs.back());
    s.r.closed_runs.push_back(s.closed_runs.back().req_per_s);
  } catch (const std::exception& e) {
    s.fail(e);
  }
}

/// The median closed-loop run, then the open-loop steps.
void open_steps(target_session& s, const options& o) {
  if (s.failed() || s.closed_runs.empty())
    return;
  auto& r = s.r;
  r.closed = take_median(
    s.closed_runs, [](const phase_result& p) { return p.req_per_s; });
  if (s.closed_runs.size() > 1)
    std::printf("[%s closed] median of %zu runs: %.0f req/s\n",
                s.label_base.c_str(), s.closed_runs.size(),
                r.closed.req_per_s);
  try {
    const double max_rate = o.open_max > 0 ? o.open_max : r.closed.req_per_s;
    for (double f : o.steps) {
      const double rate = std::max(1.0, max_rate * f);
      char label[96];
      std::snprintf(label, sizeof label, "%s open %.0f%%",
                    s.label_base.c_str(), f * 100);
      // The step whose p99 is a target runs a few times, and the run with
      // the median p99 counts (one moment of a shared machine does not
      // decide it either way).
      const unsigned n = f == 0.5 ? std::max(1u, o.half_runs) : 1;
      std::vector<phase_result> step_runs;
      for (unsigned i = 0; i < n; ++i) {
        if (n > 1) {
          std::printf("[%s] run %u of %u\n", label, i + 1, n);
          std::fflush(stdout);
        }
        step_runs.push_back(
          measure_phase(label, s.info, s.loads, o, true, rate, f));
        print_phase_line(label, step_runs.back());
        if (f == 0.5)
          r.half_runs_p99.push_back(step_runs.back().latency.p99);
      }
      r.open.push_back(take_median(step_runs, [](const phase_result& p) {
        return p.latency.p99;
      }));
      if (n > 1)
        std::printf("[%s] median p99 of %u runs: %.2f ms\n", label, n,
                    r.open.back().latency.p99);
    }
  } catch (const std::exception& e) {
    s.fail(e);
  }
}

/// Stops the target and returns its results.
target_result close_target(target_session& s) {
  if (!s.failed() && s.child) {
    try {
      for (auto* l : s.lifecycles)
        s.r.calls += l->calls();
      s.r.memory_end = read_mem(s.child->pid());
      s.r.log_bytes = s.child->output_bytes();
      s.r.exit_code = s.child->stop(SIGTERM, std::chrono::minutes(1));
    } catch (const std::exception& e) {
      s.fail(e);
    }
  }
  s.child.reset();
  if (!s.dir.empty())
    rapi::test::remove_dir(s.dir);
  return std::move(s.r);
}

/// Both targets of `scenario` (those `o` asks for): started and primed
/// together, their closed-loop runs alternating (baseline, server,
/// baseline, ...) so that a machine that speeds up or slows down over the
/// minutes of a scenario moves both sides of the ratio alike, then each
/// target's open-loop steps.
scenario_pair run_scenario(const std::string& scenario, const options& o) {
  scenario_pair p;
  p.name = scenario;
  std::vector<std::unique_ptr<target_session>> open;
  for (bool baseline : {true, false}) {
    if (baseline ? !o.run_baseline : !o.run_server)
      continue;
    auto s = std::make_unique<target_session>();
    s->scenario = scenario;
    s->baseline = baseline;
    open_target(*s, o);
    open.push_back(std::move(s));
  }
  for (unsigned i = 0; i < std::max(1u, o.closed_runs); ++i)
    for (auto& s : open)
      closed_run(*s, i, o);
  for (auto& s : open)
    open_steps(*s, o);
  p.baseline.kind = "baseline";
  p.server.kind = "server";
  p.baseline.failure = p.server.failure = "not run (--targets)";
  for (auto& s : open)
    (s->baseline ? p.baseline : p.server) = close_target(*s);
  return p;
}

// -- getall ------------------------------------------------------------------

struct getall_size {
  std::uint64_t agents = 0;
  std::vector<double> runs_ms;
  double median_ms = 0;
  double best_ms = 0;
  std::size_t bytes = 0;
  std::uint64_t counted = 0; ///< agent objects in the last answer
  int status = 0;
  bool valid = false;
  mem_info memory;
};

struct getall_result {
  std::vector<getall_size> sizes;
  double provision_ms = 0;
  int exit_code = -1;
  std::string failure;
};

/// Occurrences of `needle` in `text`.
std::uint64_t count_of(const std::string& text, std::string_view needle) {
  std::uint64_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

getall_result run_getall(const options& o) {
  getall_result g;
  std::printf("%s\n[getall] starting the server\n", rule);
  std::fflush(stdout);
  const std::string dir = rapi::test::make_temp_dir("rapi-bench-getall");
  std::optional<server_child> child;
  try {
    child.emplace(rapi::test::binary_path(), server_args(dir),
                  server_child::env_list{}, std::chrono::minutes(2));
    http_client admin("127.0.0.1", child->admin_port());
    admin.set_timeout(std::chrono::minutes(5));
    http_client api("127.0.0.1", child->api_port());
    api.set_timeout(std::chrono::minutes(5));
    std::uint64_t have = 0;
    for (std::uint64_t size : o.getall_sizes) {
      const auto p0 = clock::now();
      while (have < size) {
        const std::uint64_t last = std::min(size, have + 50'000);
        provision_range(admin, have + 1, last + 1);
        have = last;
      }
      g.provision_ms += ms_since(p0);
      getall_size s;
      s.agents = size;
      std::string body;
      for (unsigned i = 0; i < o.getall_runs; ++i) {
        const auto t0 = clock::now();
        auto resp = api.get("/api/Agent/GetAll");
        s.runs_ms.push_back(ms_since(t0));
        s.status = resp.status;
        s.bytes = resp.body.size();
        body = std::move(resp.body);
      }
      s.counted = count_of(body, "{\"AgentId\":");
      s.valid = s.status == 200 && !body.empty() && body.front() == '['
                && body.back() == ']' && s.counted == size;
      std::vector<double> sorted = s.runs_ms;
      std::sort(sorted.begin(), sorted.end());
      s.best_ms = sorted.front();
      s.median_ms = percentile(sorted, 50);
      s.memory = read_mem(child->pid());
      std::printf("[getall] %" PRIu64 " agents: %.1f MiB, runs", size,
                  static_cast<double>(s.bytes) / 1048576.0);
      for (double ms : s.runs_ms)
        std::printf(" %.0f", ms);
      std::printf(" ms, median %.0f ms%s; RSS %.0f MiB\n", s.median_ms,
                  s.valid ? "" : "  ** WRONG ANSWER **",
                  kib_to_mib(s.memory.rss_kib));
      std::fflush(stdout);
      g.sizes.push_back(s);
    }
    g.exit_code = child->stop(SIGTERM, std::chrono::minutes(1));
  } catch (const std::exception& e) {
    g.failure = e.what();
    std::printf("[getall] FAILED: %s\n", e.what());
  }
  child.reset();
  rapi::test::remove_dir(dir);
  return g;
}

// -- provision (recovery-bench) ----------------------------------------------

struct provision_result {
  int exit_code = -1;
  std::string json; ///< recovery-bench's result file
  std::string failure;
};

provision_result run_provision(const options& o) {
  provision_result p;
  const std::string dir = rapi::test::make_temp_dir("rapi-bench-prov");
  const std::string out = dir + "/recovery.json";
  std::vector<std::string> args{RAPI_RECOVERY_BENCH, "--out", out};
  if (o.quick) {
    args.push_back("--quick");
  } else {
    args.insert(args.end(),
                {"--agents", std::to_string(o.provision_agents), "--active",
                 std::to_string(std::min(o.provision_active,
                                         o.provision_agents)),
                 "--getall-at", "0", "--getall-runs", "1"});
  }
  if (o.quick)
    args.insert(args.end(), {"--active", "0", "--getall-at", "0"});
  std::string cmd;
  for (auto& a : args)
    cmd += (cmd.empty() ? "" : " ") + a;
  std::printf("%s\n[provision] %s\n", rule, cmd.c_str());
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror("execv recovery-bench");
    ::_exit(127);
  }
  int status = 0;
  while (pid > 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  p.exit_code = pid < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(out);
  p.json.assign(std::istreambuf_iterator<char>(in),
                std::istreambuf_iterator<char>());
  if (p.exit_code != 0)
    p.failure = "recovery-bench exited with " + std::to_string(p.exit_code);
  rapi::test::remove_dir(dir);
  return p;
}

// -- results -----------------------------------------------------------------

void write_phase(json_writer& w, const phase_result& p) {
  w.StartObject();
  w.Key("mode");
  w.String(p.open ? "open" : "closed");
  w.Key("fraction");
  w.Double(p.fraction);
  w.Key("offered_per_s");
  w.Double(p.offered);
  w.Key("connections");
  w.Uint(p.connections);
  w.Key("seconds");
  w.Double(p.seconds);
  w.Key("req_per_s");
  w.Double(p.req_per_s);
  w.Key("answers");
  w.Uint64(p.stats.measured);
  w.Key("errors");
  w.Uint64(p.stats.errors);
  w.Key("failures");
  w.Uint64(p.stats.failures);
  w.Key("timeouts");
  w.Uint64(p.stats.timeouts);
  w.Key("reconnects");
  w.Uint64(p.stats.reconnects);
  w.Key("error_statuses");
  w.StartObject();
  for (auto& [s, n] : p.stats.statuses) {
    w.Key(std::to_string(s).c_str());
    w.Uint64(n);
  }
  w.EndObject();
  w.Key("first_errors");
  w.StartArray();
  for (auto& e : p.stats.first_errors)
    w.String(e.c_str());
  w.EndArray();
  w.Key("latency");
  write_summary(w, p.latency);
  if (p.open) {
    w.Key("service");
    write_summary(w, p.service);
    w.Key("scheduled");
    w.Uint64(p.stats.scheduled);
    w.Key("late");
    w.Uint64(p.stats.late);
    w.Key("waited");
    w.Uint64(p.stats.waited);
    w.Key("unsent");
    w.Uint64(p.stats.unsent);
    w.Key("max_send_lag_ms");
    w.Double(p.stats.max_lag_ms);
  }
  w.Key("per_op");
  w.StartObject();
  for (auto& [name, s] : p.per_op) {
    w.Key(name.c_str());
    write_summary(w, s);
  }
  w.EndObject();
  w.Key("server_cpu_pct");
  w.Double(p.server_cpu);
  w.Key("client_cpu_pct");
  w.Double(p.client_cpu);
  w.Key("server_threads_cpu_pct");
  w.StartObject();
  for (auto& [name, pct] : p.server_threads) {
    w.Key(name.c_str());
    w.Double(pct);
  }
  w.EndObject();
  w.Key("attempts");
  w.Uint(p.attempts);
  w.Key("disturbed");
  w.Bool(p.disturbed);
  w.Key("machine_busy_pct");
  w.Double(p.machine_busy);
  w.Key("steal_pct");
  w.Double(p.steal);
  w.Key("irq_pct");
  w.Double(p.irq);
  w.Key("other_processes_cpu_pct");
  w.Double(p.others);
  w.Key("server_write_call_bytes_per_req");
  w.Double(p.wchar_per_req);
  w.Key("server_disk_write_bytes_per_req");
  w.Double(p.written_per_req);
  w.Key("rss_mib");
  w.Double(kib_to_mib(p.memory.rss_kib));
  w.Key("peak_rss_mib");
  w.Double(kib_to_mib(p.memory.hwm_kib));
  w.Key("timeline_start_unix_ms");
  w.Double(p.window_unix_ms);
  w.Key("timeline_bucket_ms");
  w.Double(timeline_bucket_ms);
  w.Key("timeline");
  w.StartArray(); // [answers, slower than 2 ms, slowest ms] per bucket
  for (auto& b : p.stats.timeline) {
    w.SetFormatOptions(rapidjson::kFormatSingleLineArray);
    w.StartArray();
    w.Uint64(b.answers);
    w.Uint64(b.slow);
    w.Double(std::round(b.max_ms * 1000) / 1000);
    w.EndArray();
  }
  w.EndArray();
  w.SetFormatOptions(rapidjson::kFormatDefault);
  w.EndObject();
}

void write_target(json_writer& w, const target_result& t) {
  w.StartObject();
  w.Key("kind");
  w.String(t.kind.c_str());
  w.Key("failure");
  w.String(t.failure.c_str());
  w.Key("start_ms");
  w.Double(t.start_ms);
  w.Key("provision_ms");
  w.Double(t.provision_ms);
  w.Key("closed");
  write_phase(w, t.closed);
  w.Key("half_runs_p99_ms");
  w.StartArray();
  for (double x : t.half_runs_p99)
    w.Double(x);
  w.EndArray();
  w.Key("closed_runs_req_per_s");
  w.StartArray();
  for (double x : t.closed_runs)
    w.Double(x);
  w.EndArray();
  w.Key("open");
  w.StartArray();
  for (auto& p : t.open)
    write_phase(w, p);
  w.EndArray();
  w.Key("agents");
  w.Uint64(t.agents);
  w.Key("calls_completed");
  w.Uint64(t.calls);
  w.Key("primed_calls");
  w.Uint64(t.primed_calls);
  w.Key("prime_ms");
  w.Double(t.prime_ms);
  w.Key("prime_req_per_s");
  w.Double(t.prime_req_per_s);
  w.Key("rss_mib_end");
  w.Double(kib_to_mib(t.memory_end.rss_kib));
  w.Key("peak_rss_mib");
  w.Double(kib_to_mib(t.memory_end.hwm_kib));
  w.Key("log_bytes");
  w.Uint64(t.log_bytes);
  w.Key("exit_code");
  w.Int(t.exit_code);
  w.EndObject();
}


struct results {
  std::vector<stall_run> stalls;
  std::vector<scenario_pair> pairs;
  std::optional<getall_result> getall;
  std::optional<provision_result> provision;
};

/// One target judged: what was measured, against what, and whether it
/// applies to this run's sizes.
struct verdict {
  std::string target;
  std::string measured;
  std::string limit;
  bool applies = true;
  bool met = false;
  /// Shown beside the targets, not one of them: "within" or "over".
  bool information = false;
};

/// " (median of 3 runs: 1.20, 2.10, 9.80 ms)", or nothing for one run.
std::string half_runs_text(const target_result& t) {
  if (t.half_runs_p99.size() < 2)
    return {};
  std::string out = " (median of " + std::to_string(t.half_runs_p99.size())
                    + " runs: ";
  for (std::size_t i = 0; i < t.half_runs_p99.size(); ++i)
    out += (i ? ", " : "") + fmt("%.2f", t.half_runs_p99[i]);
  return out + " ms)";
}

std::vector<verdict> judge(const options& o, const results& r) {
  std::vector<verdict> v;
  for (auto& p : r.pairs) {
    const double want = p.name == "status" ? 0.70 : 0.50;
    if (o.run_baseline && o.run_server)
      v.push_back({p.name + " req/s vs baseline (closed loop)",
                   fmt("%.3f", p.ratio()) + " ("
                     + fmt("%.0f", p.server.closed.req_per_s) + " / "
                     + fmt("%.0f", p.baseline.closed.req_per_s) + ")",
                   ">= " + fmt("%.2f", want), true, p.ratio() >= want});
    if (auto* h = scenario_pair::half(p.server))
      v.push_back({p.name + " p99 at half the maximum rate (open loop, "
                     + fmt("%.0f", h->offered) + " req/s)",
                   fmt("%.2f ms", h->latency.p99) + half_runs_text(p.server),
                   "<= 2 ms", true,
                   h->latency.p99 <= 2.0 && h->stats.errors == 0});
    // Not a target of the server; shown so that the server's figure can be
    // read against what the machine allows the same client and RESTinio.
    if (auto* b = scenario_pair::half(p.baseline))
      v.push_back({p.name + " p99 of the baseline at half its own maximum "
                     "(open loop, " + fmt("%.0f", b->offered)
                     + " req/s; information)",
                   fmt("%.2f ms", b->latency.p99)
                     + half_runs_text(p.baseline),
                   "<= 2 ms", true, b->latency.p99 <= 2.0, true});
  }
  if (r.getall)
    for (auto& s : r.getall->sizes)
      if (s.agents == 100'000 || s.agents == o.getall_sizes.back())
        v.push_back({"GetAll with " + std::to_string(s.agents)
                       + " agents (median)",
                     fmt("%.0f ms", s.median_ms), "<= 300 ms",
                     s.agents >= 100'000, s.valid && s.median_ms <= 300});
  if (r.provision && !r.provision->json.empty()) {
    rapidjson::Document d;
    d.Parse(r.provision->json.c_str());
    if (!d.HasParseError() && d.IsObject()) {
      const auto agents = d["params"]["agents"].GetUint64();
      const bool big = agents >= 1'000'000;
      const double before =
        d["before_restart"]["memory"]["rss_mib"].GetDouble();
      const double after = d["restart"]["memory"]["rss_mib"].GetDouble();
      const double serving = d["restart"]["serving_ms"].GetDouble();
      const std::string n = std::to_string(agents);
      v.push_back({"RSS with " + n + " idle agents (provisioned)",
                   fmt("%.0f MiB", before), "<= 1024 MiB", big,
                   before <= 1024});
      v.push_back({"RSS with " + n + " idle agents (after restart)",
                   fmt("%.0f MiB", after), "<= 1024 MiB", big, after <= 1024});
      // Not idle, so not the target itself; shown so that nobody sizes a
      // machine by the idle figure alone.
      const double peak =
        d["before_restart"]["memory"]["peak_rss_mib"].GetDouble();
      v.push_back({"peak RSS while provisioning " + n
                     + " agents (not idle; information)",
                   fmt("%.0f MiB", peak), "<= 1024 MiB", big,
                   peak <= 1024, true});
      v.push_back({"restart to serving with " + n + " agents",
                   fmt("%.0f ms", serving), "<= 10000 ms", big,
                   serving <= 10'000});
    }
  }
  return v;
}

std::string to_json(const options& o, const results& r,
                    const std::vector<verdict>& verdicts) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("bench");
  w.String("recording");
  w.Key("time");
  w.String(utc_now_text().c_str());
  w.Key("commit");
  w.String(o.commit.c_str());
  w.Key("machine");
  w.StartObject();
  w.Key("nproc");
  w.Uint(std::thread::hardware_concurrency());
  w.Key("cpu_model");
  w.String(cpu_model().c_str());
  w.Key("kernel");
  w.String(kernel_release().c_str());
  w.Key("mem_total_mib");
  w.Double(mem_total_mib());
  w.EndObject();
  w.Key("machine_stalls");
  w.StartArray();
  for (auto& run : r.stalls) {
    w.StartObject();
    w.Key("when");
    w.String(run.when.c_str());
    w.Key("seconds");
    w.Double(o.stall_probe);
    w.Key("steal_pct");
    w.Double(run.steal_pct);
    w.Key("summary");
    w.String(run.summary.c_str());
    w.Key("cpus");
    w.StartArray();
    for (auto& c : run.cpus) {
      w.StartObject();
      w.Key("cpu");
      w.Int(c.cpu);
      w.Key("seconds");
      w.Double(c.seconds);
      w.Key("longest_ms");
      w.Double(c.longest_ms);
      w.Key("gaps");
      w.StartArray();
      for (std::size_t i = 0; i < c.count.size(); ++i) {
        w.StartObject();
        w.Key("over_ms");
        w.Double(stall_profile::thresholds_ms[i]);
        w.Key("count");
        w.Uint64(c.count[i]);
        w.Key("ms_per_s");
        w.Double(c.ms_per_s(i));
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("params");
  w.StartObject();
  w.Key("quick");
  w.Bool(o.quick);
  w.Key("agents");
  w.Uint64(o.agents);
  w.Key("lifecycle_agents");
  w.Uint64(o.lifecycle_agents);
  w.Key("prime_calls");
  w.Uint64(o.prime_calls);
  w.Key("connections");
  w.Uint(o.connections);
  w.Key("open_connections");
  w.Uint(o.open_connections);
  w.Key("client_threads");
  w.Uint(o.client_threads);
  w.Key("seconds");
  w.Double(o.seconds);
  w.Key("warmup");
  w.Double(o.warmup);
  w.Key("step_seconds");
  w.Double(o.step_seconds);
  w.Key("half_step_seconds");
  w.Double(o.half_step_seconds);
  w.Key("step_warmup");
  w.Double(o.step_warmup);
  w.Key("steps");
  w.StartArray();
  for (double s : o.steps)
    w.Double(s);
  w.EndArray();
  w.Key("open_max");
  w.Double(o.open_max);
  w.Key("screen_share");
  w.Double(o.screen_share);
  w.Key("duplicate_share");
  w.Double(o.duplicate_share);
  w.Key("late_ms");
  w.Double(o.late_ms);
  w.Key("getall_runs");
  w.Uint(o.getall_runs);
  w.Key("provision_agents");
  w.Uint64(o.provision_agents);
  w.Key("provision_active");
  w.Uint64(o.provision_active);
  w.Key("baseline_threads");
  w.Uint(o.server_threads);
  w.Key("quiet_wait_s");
  w.Double(o.quiet_wait);
  w.Key("stall_probe_s");
  w.Double(o.stall_probe);
  w.Key("retries");
  w.Uint(o.retries);
  w.Key("closed_runs");
  w.Uint(o.closed_runs);
  w.Key("closed_runs_alternate");
  w.Bool(true);
  w.Key("half_runs");
  w.Uint(o.half_runs);
  w.Key("max_other_pct");
  w.Double(o.max_other);
  w.Key("server_log");
  w.String(o.server_log.empty() ? "default" : o.server_log.c_str());
  w.EndObject();

  w.Key("scenarios");
  w.StartObject();
  for (auto& p : r.pairs) {
    w.Key(p.name.c_str());
    w.StartObject();
    w.Key("agents");
    w.Uint64(p.name == "lifecycle" ? o.lifecycle_agents : o.agents);
    w.Key("ratio");
    w.Double(p.ratio());
    w.Key("baseline");
    write_target(w, p.baseline);
    w.Key("server");
    write_target(w, p.server);
    w.EndObject();
  }
  if (r.getall) {
    w.Key("getall");
    w.StartObject();
    w.Key("failure");
    w.String(r.getall->failure.c_str());
    w.Key("exit_code");
    w.Int(r.getall->exit_code);
    w.Key("sizes");
    w.StartArray();
    for (auto& s : r.getall->sizes) {
      w.StartObject();
      w.Key("agents");
      w.Uint64(s.agents);
      w.Key("status");
      w.Int(s.status);
      w.Key("valid");
      w.Bool(s.valid);
      w.Key("agents_in_answer");
      w.Uint64(s.counted);
      w.Key("bytes");
      w.Uint64(s.bytes);
      w.Key("runs_ms");
      w.StartArray();
      for (double ms : s.runs_ms)
        w.Double(ms);
      w.EndArray();
      w.Key("median_ms");
      w.Double(s.median_ms);
      w.Key("best_ms");
      w.Double(s.best_ms);
      w.Key("rss_mib");
      w.Double(kib_to_mib(s.memory.rss_kib));
      w.Key("peak_rss_mib");
      w.Double(kib_to_mib(s.memory.hwm_kib));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  if (r.provision) {
    w.Key("provision");
    w.StartObject();
    w.Key("exit_code");
    w.Int(r.provision->exit_code);
    w.Key("failure");
    w.String(r.provision->failure.c_str());
    w.Key("recovery_bench");
    rapidjson::Document d;
    d.Parse(r.provision->json.c_str());
    if (d.HasParseError())
      w.Null();
    else
      d.Accept(w);
    w.EndObject();
  }
  w.EndObject();

  w.Key("verdict");
  w.StartArray();
  for (auto& v : verdicts) {
    w.StartObject();
    w.Key("target");
    w.String(v.target.c_str());
    w.Key("measured");
    w.String(v.measured.c_str());
    w.Key("limit");
    w.String(v.limit.c_str());
    w.Key("applies");
    w.Bool(v.applies);
    w.Key("met");
    w.Bool(v.met);
    w.Key("information");
    w.Bool(v.information);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void print_table(const options& o, const results& r,
                 const std::vector<verdict>& verdicts) {
  std::printf("\n%s\nrecording-bench: %u hardware threads (%s), %u client "
              "thread(s), %u closed / %u open-loop connections; status "
              "over %" PRIu64 " agents, lifecycle over %" PRIu64
              " agents primed with %" PRIu64 " calls each\n\n",
              rule, std::thread::hardware_concurrency(), cpu_model().c_str(),
              o.client_threads, o.connections, o.open_connections, o.agents,
              o.lifecycle_agents, o.prime_calls);
  std::printf("  %-10s %-8s %-10s %9s %9s %8s %8s %8s %8s %7s %6s %5s %5s "
              "%5s %6s\n",
              "scenario", "target", "mode", "offered", "req/s", "p50 ms",
              "p90 ms", "p99 ms", "p99.9", "errors", "late", "srv%",
              "cli%", "oth%", "RSS");
  auto line = [](const std::string& sc, const std::string& kind,
                 const phase_result& p) {
    const std::string mode =
      p.open ? "open " + fmt("%.0f%%", p.fraction * 100) : "closed";
    std::printf("  %-10s %-8s %-10s %9s %9.0f %8.3f %8.3f %8.3f %8.3f %7" PRIu64
                " %6s %5.0f %5.0f %5.0f %6.0f\n",
                sc.c_str(), kind.c_str(), mode.c_str(),
                p.open ? fmt("%.0f", p.offered).c_str() : "-", p.req_per_s,
                p.latency.p50, p.latency.p90, p.latency.p99, p.latency.p999,
                p.stats.errors + p.stats.failures + p.stats.timeouts,
                p.open ? std::to_string(p.stats.late).c_str() : "-",
                p.server_cpu, p.client_cpu, p.others,
                kib_to_mib(p.memory.rss_kib));
  };
  for (auto& p : r.pairs) {
    for (auto* t : {&p.baseline, &p.server}) {
      if (!t->failure.empty()) {
        std::printf("  %-10s %-8s FAILED: %s\n", p.name.c_str(),
                    t->kind.c_str(), t->failure.substr(0, 200).c_str());
        continue;
      }
      line(p.name, t->kind, t->closed);
      for (auto& s : t->open)
        line(p.name, t->kind, s);
    }
    std::printf("  %-10s server / baseline (closed loop): %.2f\n\n",
                p.name.c_str(), p.ratio());
  }
  for (auto& p : r.pairs)
    if (p.name == "lifecycle" && p.server.failure.empty()) {
      std::printf("  lifecycle per operation (server, closed loop; %" PRIu64
                  " calls completed, %" PRIu64 " of them priming; %.0f "
                  "req/s while priming):\n",
                  p.server.calls, p.server.primed_calls,
                  p.server.prime_req_per_s);
      for (auto& [name, s] : p.server.closed.per_op)
        std::printf("    %-22s %8zu  p50 %.3f  p99 %.3f ms\n", name.c_str(),
                    s.count, s.p50, s.p99);
      std::printf("\n");
    }
  if (r.getall)
    for (auto& s : r.getall->sizes)
      std::printf("  getall     %7" PRIu64 " agents: median %.0f ms (best "
                  "%.0f), %.1f MiB body%s\n",
                  s.agents, s.median_ms, s.best_ms,
                  static_cast<double>(s.bytes) / 1048576.0,
                  s.valid ? "" : "  WRONG ANSWER");
  std::printf("\n  targets:\n");
  for (auto& v : verdicts)
    std::printf("    %-60s %-22s %-12s %s\n", v.target.c_str(),
                v.measured.c_str(), v.limit.c_str(),
                !v.applies        ? "n/a (smaller run)"
                : v.information ? (v.met ? "within" : "over")
                : v.met         ? "met"
                                : "MISSED");
  std::printf("\n");
}

bool wrong_answers(const target_result& t) {
  auto bad = [](const phase_result& p) {
    return p.stats.errors + p.stats.failures > 0;
  };
  if (!t.failure.empty() || bad(t.closed) || t.exit_code != 0)
    return true;
  return std::any_of(t.open.begin(), t.open.end(), bad);
}

int run(const options& o) {
  std::printf("recording-bench: scenarios");
  for (auto& s : o.scenarios)
    std::printf(" %s", s.c_str());
  std::printf("; server %s; baseline %s\n", rapi::test::binary_path().c_str(),
              RAPI_BASELINE_BINARY);
  std::fflush(stdout);
  results r;
  const bool loads = wants(o, "status") || wants(o, "lifecycle");
  if (o.stall_probe > 0 && loads)
    r.stalls.push_back(probe_machine(o, "before the loads"));
  for (const char* sc : {"status", "lifecycle"}) {
    if (!wants(o, sc))
      continue;
    scenario_pair p = run_scenario(sc, o);
    std::printf("[%s] server / baseline: %.2f\n", sc, p.ratio());
    r.pairs.push_back(std::move(p));
  }
  if (o.stall_probe > 0 && loads)
    r.stalls.push_back(probe_machine(o, "after the loads"));
  if (wants(o, "getall"))
    r.getall = run_getall(o);
  if (wants(o, "provision"))
    r.provision = run_provision(o);

  const auto verdicts = judge(o, r);
  print_table(o, r, verdicts);
  write_text_file(o.out, to_json(o, r, verdicts));
  std::printf("results: %s\n", o.out.c_str());

  bool wrong = false;
  for (auto& p : r.pairs)
    wrong = wrong || (o.run_baseline && wrong_answers(p.baseline))
            || (o.run_server && wrong_answers(p.server));
  if (r.getall) {
    wrong = wrong || !r.getall->failure.empty() || r.getall->exit_code != 0;
    for (auto& s : r.getall->sizes)
      wrong = wrong || !s.valid;
  }
  if (r.provision)
    wrong = wrong || r.provision->exit_code != 0;
  if (wrong)
    std::printf("** wrong answers or failures (see above) **\n");
  return wrong ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  return rapi::bench::bench_main<options>(
    argc, argv, "recording-bench", usage_text, parse_options,
    [](const options& o) {
      if (!o.render.empty())
        return render_report(o.render, o.markdown, o.svg, o.notes);
      return run(o);
    });
}
