/// recovery-bench: how long the server takes to come back with many agents,
/// how much memory they cost, and how fast GetAll is (issue "Durability",
/// point 2).
///
/// Provisions N agents through `PUT /admin/agents` in bulk, gives some of
/// them a live call through the CTI feed, measures GetAll at a given size
/// on the way, then stops the server with SIGTERM, restarts it on the same
/// data folder and measures the time to serving, the memory after restart,
/// lookups and GetAll. Prints a table and writes JSON (`--out`).

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rapidjson/reader.h>

#include "bench/bench_util.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace {

using namespace rapi::bench;
using rapi::test::http_client;
using rapi::test::server_options;
using rapi::test::server_process;

/// Spec targets the numbers are judged against.
constexpr double target_serving_ms = 10'000;
constexpr double target_rss_mib = 1024;
constexpr double target_getall_ms = 300;
constexpr std::uint64_t target_getall_agents = 100'000;

/// Command-line options.
struct options {
  std::uint64_t agents = 1'000'000;
  std::uint64_t batch = 50'000;
  std::uint64_t active = 10'000;
  std::uint64_t getall_at = target_getall_agents;
  unsigned getall_runs = 3;
  unsigned lookups = 2'000;
  unsigned threads = 2;
  std::string out = default_result_path("recovery.json");
  bool keep_data = false;
  bool quick = false;
};

const char* const usage_text =
  "usage: recovery-bench [--quick] [--agents N] [--batch N] [--active N]\n"
  "                      [--getall-at N] [--getall-runs N] [--lookups N]\n"
  "                      [--threads N] [--out FILE] [--keep-data]\n"
  "  --agents N       agents to provision (default 1000000; quick 20000)\n"
  "  --batch N        agents per PUT /admin/agents (default 50000)\n"
  "  --active N       agents given a live call (default 10000; quick 1000)\n"
  "  --getall-at N    also time GetAll once N agents exist (default\n"
  "                   100000; quick 10000; 0 = no)\n"
  "  --getall-runs N  GetAll repetitions per measurement (default 3)\n"
  "  --lookups N      random GET /api/Agent before and after the restart\n"
  "                   (default 2000; quick 200)\n"
  "  --threads N      client threads for the CTI events (default 2)\n"
  "  --out FILE       JSON results (default bench/results/recovery.json)\n"
  "  --keep-data      keep the server's data folder (path printed)\n"
  "  --quick          small sizes that run in a few seconds\n";

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") {
      o.quick = true;
      o.agents = 20'000;
      o.batch = 5'000;
      o.active = 1'000;
      o.getall_at = 10'000;
      o.lookups = 200;
    }
  arg_reader a(argc, argv);
  while (a.more()) {
    if (a.flag("--quick") || a.number("--agents", o.agents)
        || a.number("--batch", o.batch) || a.number("--active", o.active)
        || a.number("--getall-at", o.getall_at)
        || a.number("--getall-runs", o.getall_runs)
        || a.number("--lookups", o.lookups)
        || a.number("--threads", o.threads) || a.value("--out", o.out))
      continue;
    if (a.flag("--keep-data")) {
      o.keep_data = true;
      continue;
    }
    if (a.flag("--help") || a.flag("-h")) {
      std::cout << usage_text;
      std::exit(0);
    }
    throw std::invalid_argument("unknown option '" + a.current() + "'");
  }
  if (o.agents == 0 || o.batch == 0 || o.threads == 0)
    throw std::invalid_argument("--agents, --batch and --threads must be > 0");
  if (o.active > o.agents)
    throw std::invalid_argument("--active cannot exceed --agents");
  if (o.getall_runs == 0)
    o.getall_runs = 1;
  return o;
}

// -- which agents are on a call ----------------------------------------------

/// Spreads the `active` agents with a call evenly over ids 1..agents.
struct active_set {
  std::uint64_t agents = 0;
  std::uint64_t active = 0;
  std::uint64_t stride = 1;

  active_set(std::uint64_t n, std::uint64_t a)
    : agents(n), active(a), stride(a == 0 ? 1 : n / a) {}

  /// The `i`-th agent with a call (0-based).
  std::uint64_t id(std::uint64_t i) const { return 1 + i * stride; }

  bool contains(std::uint64_t id) const {
    return active != 0 && (id - 1) % stride == 0
           && (id - 1) / stride < active;
  }
};

// -- GetAll ------------------------------------------------------------------

/// SAX handler that checks GetAll's body is a JSON array of objects and
/// counts the agents and those whose `ActiveCall` is an object.
struct getall_counter
  : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, getall_counter> {
  int depth = 0;
  bool top_array = false;
  bool active_key = false;
  std::uint64_t agents = 0;
  std::uint64_t active = 0;

  bool Default() {
    active_key = false;
    return depth > 0;
  }
  bool StartObject() {
    if (depth == 0)
      return false;
    if (depth == 1)
      ++agents;
    else if (depth == 2 && active_key)
      ++active;
    active_key = false;
    ++depth;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth == 2)
      active_key = std::string_view(s, n) == "ActiveCall";
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() {
    if (depth == 0)
      top_array = true;
    else if (depth == 1)
      return false; // an array where an agent object belongs
    active_key = false;
    ++depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

/// One GetAll measurement: several runs of the same request.
struct getall_result {
  std::uint64_t expected_agents = 0;
  std::vector<double> runs_ms;
  double median_ms = 0;
  double best_ms = 0;
  double parse_ms = 0;
  std::size_t bytes = 0;
  std::uint64_t agents = 0;
  std::uint64_t active = 0;
  int status = 0;
  bool valid = false;
  unsigned errors = 0;
};

getall_result measure_getall(http_client& api, unsigned runs,
                             std::uint64_t expected_agents,
                             std::uint64_t expected_active) {
  getall_result g;
  g.expected_agents = expected_agents;
  api.set_timeout(std::chrono::minutes(5));
  for (unsigned i = 0; i < runs; ++i) {
    const auto t0 = clock::now();
    auto r = api.get("/api/Agent/GetAll");
    g.runs_ms.push_back(ms_since(t0));
    g.status = r.status;
    g.bytes = r.body.size();
    if (i + 1 < runs) {
      if (r.status != 200)
        ++g.errors;
      continue;
    }
    // The last run's body is checked (and its parse timed, client side).
    const auto p0 = clock::now();
    getall_counter h;
    rapidjson::Reader reader;
    rapidjson::StringStream ss(r.body.c_str());
    g.valid = r.status == 200
              && !reader.Parse(ss, h).IsError() && h.top_array
              && h.depth == 0;
    g.parse_ms = ms_since(p0);
    g.agents = h.agents;
    g.active = h.active;
    if (!g.valid || g.agents != expected_agents
        || g.active != expected_active)
      ++g.errors;
  }
  api.set_timeout(std::chrono::seconds(10));
  std::vector<double> sorted = g.runs_ms;
  std::sort(sorted.begin(), sorted.end());
  g.best_ms = sorted.front();
  g.median_ms = percentile(sorted, 50);
  return g;
}

void print_getall(const char* when, const getall_result& g) {
  std::printf("[getall] %s: %" PRIu64 " agents (%" PRIu64
              " with a call) in %.1f MiB; runs:",
              when, g.agents, g.active,
              static_cast<double>(g.bytes) / 1048576.0);
  for (double ms : g.runs_ms)
    std::printf(" %.0f", ms);
  std::printf(" ms; client parse %.0f ms%s\n", g.parse_ms,
              g.errors ? "  ** WRONG ANSWER **" : "");
  std::fflush(stdout);
}

void write_getall(json_writer& w, const getall_result& g) {
  w.StartObject();
  w.Key("expected_agents");
  w.Uint64(g.expected_agents);
  w.Key("agents");
  w.Uint64(g.agents);
  w.Key("agents_with_call");
  w.Uint64(g.active);
  w.Key("status");
  w.Int(g.status);
  w.Key("valid_json_array");
  w.Bool(g.valid);
  w.Key("errors");
  w.Uint(g.errors);
  w.Key("bytes");
  w.Uint64(g.bytes);
  w.Key("runs_ms");
  w.StartArray();
  for (double ms : g.runs_ms)
    w.Double(ms);
  w.EndArray();
  w.Key("best_ms");
  w.Double(g.best_ms);
  w.Key("median_ms");
  w.Double(g.median_ms);
  w.Key("client_parse_ms");
  w.Double(g.parse_ms);
  w.EndObject();
}

// -- lookups -----------------------------------------------------------------

/// Random `GET /api/Agent?agentIdentifier=Id&value=<id>` with checks.
struct lookup_result {
  latency_summary latency;
  std::uint64_t errors = 0; ///< non-200 or exception
  std::uint64_t wrong = 0;  ///< 200 with the wrong agent or call
};

lookup_result random_lookups(http_client& api, unsigned n,
                             const active_set& calls, std::uint64_t seed) {
  lookup_result res;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint64_t> pick(1, calls.agents);
  std::vector<double> ms;
  ms.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    // Every fourth lookup targets an agent with a call.
    std::uint64_t id = pick(rng);
    if (i % 4 == 0 && calls.active > 0)
      id = calls.id(pick(rng) % calls.active);
    const std::string n_text = std::to_string(id);
    const auto t0 = clock::now();
    rapi::test::http_response r;
    try {
      r = api.get("/api/Agent?agentIdentifier=Id&value=" + n_text);
    } catch (const std::exception&) {
      ++res.errors;
      api.close();
      continue;
    }
    ms.push_back(ms_since(t0));
    if (r.status != 200) {
      ++res.errors;
      continue;
    }
    const bool right_agent =
      r.body.find("\"AgentId\":" + n_text + ",") != std::string::npos;
    const bool right_call =
      calls.contains(id)
        ? r.body.find("\"CallInstance\":\"c" + n_text + "\"")
            != std::string::npos
        : r.body.find("\"ActiveCall\":null") != std::string::npos;
    if (!right_agent || !right_call)
      ++res.wrong;
  }
  res.latency = summarize(ms);
  return res;
}

void write_lookups(json_writer& w, const lookup_result& l) {
  w.StartObject();
  w.Key("errors");
  w.Uint64(l.errors);
  w.Key("wrong_answers");
  w.Uint64(l.wrong);
  w.Key("latency");
  write_summary(w, l.latency);
  w.EndObject();
}

// -- CTI ---------------------------------------------------------------------

/// Result of starting a call for every agent of an `active_set`.
struct cti_result {
  std::uint64_t events = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  double total_ms = 0;
  latency_summary latency;
  std::string first_error;
};

/// Starts call `c<id>` for every agent of `calls`, with batched CTI
/// requests (bodies stay under the API's 64 KiB limit) from `threads`
/// keep-alive clients.
cti_result start_calls(const server_process& srv, const active_set& calls,
                       unsigned threads) {
  constexpr std::uint64_t per_request = 500;
  cti_result res;
  res.events = calls.active;
  const std::uint64_t requests = (calls.active + per_request - 1)
                                 / per_request;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> done_events{0};
  std::mutex mu;
  std::vector<double> ms;
  const auto t0 = clock::now();
  auto work = [&] {
    http_client api = srv.api();
    std::vector<double> mine;
    std::uint64_t errors = 0;
    std::string first_error;
    for (;;) {
      const std::uint64_t req = next++;
      if (req >= requests)
        break;
      const std::uint64_t lo = req * per_request;
      const std::uint64_t hi = std::min(calls.active, lo + per_request);
      std::string body = "[";
      for (std::uint64_t i = lo; i < hi; ++i) {
        const std::string n = std::to_string(calls.id(i));
        if (i != lo)
          body += ',';
        body += "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + n
                + "\",\"Type\":\"CallStarted\",\"CallId\":\"c" + n + "\"}";
      }
      body += ']';
      const auto r0 = clock::now();
      try {
        auto r = api.post("/api/Cti/Events", body);
        mine.push_back(ms_since(r0));
        if (r.status != 200 || r.body.empty() || r.body[0] != '[') {
          ++errors;
          if (first_error.empty())
            first_error = std::to_string(r.status) + ": "
                          + r.body.substr(0, 200);
        }
      } catch (const std::exception& e) {
        ++errors;
        if (first_error.empty())
          first_error = e.what();
        api.close();
      }
      const std::uint64_t total = done_events += hi - lo;
      if ((req + 1) % 20 == 0)
        std::printf("[cti] %" PRIu64 "/%" PRIu64 " calls started\n", total,
                    calls.active);
    }
    std::lock_guard<std::mutex> lock(mu);
    ms.insert(ms.end(), mine.begin(), mine.end());
    res.errors += errors;
    if (res.first_error.empty())
      res.first_error = first_error;
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back(work);
  for (auto& t : pool)
    t.join();
  res.total_ms = ms_since(t0);
  res.requests = requests;
  res.latency = summarize(ms);
  return res;
}

// -- restart -----------------------------------------------------------------

/// Two distinct ports free right now: both are bound at once before either
/// is let go (two ports found one after the other can be the same one, and
/// the restarted server then fails to bind its second listener).
std::pair<std::uint16_t, std::uint16_t> two_free_ports() {
  int fds[2] = {-1, -1};
  std::uint16_t ports[2] = {0, 0};
  auto close_all = [&] {
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  };
  for (int i = 0; i < 2; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fds[i] < 0
        || ::bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len)
             != 0) {
      close_all();
      throw std::runtime_error("cannot find a free port");
    }
    ports[i] = ntohs(addr.sin_port);
  }
  close_all();
  return {ports[0], ports[1]};
}

/// What a client polling the API saw while the server recovered.
struct poll_result {
  double first_response_ms = -1; ///< first HTTP answer of any status
  int first_status = 0;
  double first_200_ms = -1;
  std::map<int, std::uint64_t> other_statuses; ///< answers before the 200
  std::uint64_t refused = 0; ///< connection attempts that failed
};

/// Polls `GET /api/Agent` for `id` on `port` every 5 ms, timing from `t0`,
/// until it answers 200, `stop` is set, or `limit` passes.
void poll_until_200(std::uint16_t port, std::uint64_t id,
                    clock::time_point t0, const std::atomic<bool>& stop,
                    std::chrono::milliseconds limit, poll_result& out) {
  http_client c("127.0.0.1", port);
  c.set_timeout(std::chrono::seconds(5));
  const std::string target =
    "/api/Agent?agentIdentifier=Id&value=" + std::to_string(id);
  while (!stop.load() && clock::now() - t0 < limit) {
    try {
      auto r = c.get(target);
      if (out.first_response_ms < 0) {
        out.first_response_ms = ms_since(t0);
        out.first_status = r.status;
      }
      if (r.status == 200) {
        out.first_200_ms = ms_since(t0);
        return;
      }
      ++out.other_statuses[r.status];
    } catch (const std::exception&) {
      ++out.refused;
      c.close();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// The restored agents and restore time from the server's start-up
/// output: the structured `"event":"ready"` log line
/// (`"restored":N,...,"restore_ms":X`), or the older plain line
/// "N agents restored in X ms".
struct restore_line {
  long long restored = -1;
  long long ms = -1;
};

restore_line parse_restore_line(const std::string& output) {
  restore_line r;
  static const std::regex json_re(
    "\"event\":\"ready\".*\"restored\":(\\d+).*\"restore_ms\":(\\d+)");
  static const std::regex text_re("(\\d+) agents restored in (\\d+) ms");
  std::smatch m;
  if (std::regex_search(output, m, json_re)
      || std::regex_search(output, m, text_re)) {
    r.restored = std::stoll(m[1]);
    r.ms = std::stoll(m[2]);
  }
  return r;
}

// -- the run -----------------------------------------------------------------

/// Everything measured; written as JSON at the end.
struct results {
  double first_start_ms = 0;
  double provision_ms = 0;
  latency_summary batch_latency;
  mem_info mem_provisioned;
  std::optional<getall_result> getall_at;
  cti_result cti;
  mem_info mem_before_stop;
  lookup_result lookups_before;
  double data_dir_mib = 0;
  double stop_ms = 0;
  int stop_exit = -1;
  double serving_ms = 0;
  restore_line restore;
  poll_result poll;
  mem_info mem_restarted;
  lookup_result lookups_after;
  std::optional<getall_result> getall_after;
  mem_info mem_after_getall;
  double final_stop_ms = 0;
  int final_exit = -1;
};

void write_mem(json_writer& w, const char* key, const mem_info& m) {
  w.Key(key);
  w.StartObject();
  w.Key("rss_mib");
  w.Double(kib_to_mib(m.rss_kib));
  w.Key("peak_rss_mib");
  w.Double(kib_to_mib(m.hwm_kib));
  w.EndObject();
}

std::string to_json(const options& o, const results& r) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  begin_results(w, "recovery");
  w.Key("params");
  w.StartObject();
  w.Key("quick");
  w.Bool(o.quick);
  w.Key("agents");
  w.Uint64(o.agents);
  w.Key("batch");
  w.Uint64(o.batch);
  w.Key("active");
  w.Uint64(o.active);
  w.Key("getall_at");
  w.Uint64(o.getall_at);
  w.Key("getall_runs");
  w.Uint(o.getall_runs);
  w.Key("lookups");
  w.Uint(o.lookups);
  w.Key("threads");
  w.Uint(o.threads);
  w.EndObject();

  w.Key("targets");
  w.StartObject();
  w.Key("serving_ms_at_1m_agents");
  w.Double(target_serving_ms);
  w.Key("rss_mib");
  w.Double(target_rss_mib);
  w.Key("getall_ms_at_100k_agents");
  w.Double(target_getall_ms);
  w.EndObject();

  w.Key("first_start_ms");
  w.Double(r.first_start_ms);
  w.Key("provision");
  w.StartObject();
  w.Key("total_ms");
  w.Double(r.provision_ms);
  w.Key("agents_per_s");
  w.Double(static_cast<double>(o.agents) / (r.provision_ms / 1000.0));
  w.Key("batch_latency");
  write_summary(w, r.batch_latency);
  write_mem(w, "memory", r.mem_provisioned);
  w.EndObject();

  w.Key("getall_at");
  if (r.getall_at)
    write_getall(w, *r.getall_at);
  else
    w.Null();

  w.Key("calls");
  w.StartObject();
  w.Key("events");
  w.Uint64(r.cti.events);
  w.Key("requests");
  w.Uint64(r.cti.requests);
  w.Key("errors");
  w.Uint64(r.cti.errors);
  w.Key("first_error");
  w.String(r.cti.first_error.c_str());
  w.Key("total_ms");
  w.Double(r.cti.total_ms);
  w.Key("request_latency");
  write_summary(w, r.cti.latency);
  w.EndObject();

  w.Key("before_restart");
  w.StartObject();
  write_mem(w, "memory", r.mem_before_stop);
  w.Key("data_dir_mib");
  w.Double(r.data_dir_mib);
  w.Key("lookups");
  write_lookups(w, r.lookups_before);
  w.Key("sigterm_stop_ms");
  w.Double(r.stop_ms);
  w.Key("exit_code");
  w.Int(r.stop_exit);
  w.EndObject();

  w.Key("restart");
  w.StartObject();
  w.Key("serving_ms");
  w.Double(r.serving_ms);
  w.Key("server_reported_restored");
  w.Int64(r.restore.restored);
  w.Key("server_reported_restore_ms");
  w.Int64(r.restore.ms);
  w.Key("poll_first_response_ms");
  w.Double(r.poll.first_response_ms);
  w.Key("poll_first_status");
  w.Int(r.poll.first_status);
  w.Key("poll_first_200_ms");
  w.Double(r.poll.first_200_ms);
  w.Key("poll_answers_before_200");
  w.StartObject();
  for (auto& [status, n] : r.poll.other_statuses) {
    w.Key(std::to_string(status).c_str());
    w.Uint64(n);
  }
  w.EndObject();
  write_mem(w, "memory", r.mem_restarted);
  w.Key("lookups");
  write_lookups(w, r.lookups_after);
  w.Key("getall");
  if (r.getall_after)
    write_getall(w, *r.getall_after);
  else
    w.Null();
  write_mem(w, "memory_after_getall", r.mem_after_getall);
  w.Key("sigterm_stop_ms");
  w.Double(r.final_stop_ms);
  w.Key("exit_code");
  w.Int(r.final_exit);
  w.EndObject();

  w.Key("verdict");
  w.StartObject();
  if (o.agents >= 1'000'000) {
    w.Key("serving_within_10s");
    w.Bool(r.serving_ms <= target_serving_ms);
  }
  w.Key("rss_within_1gib");
  w.Bool(kib_to_mib(r.mem_before_stop.rss_kib) <= target_rss_mib
         && kib_to_mib(r.mem_restarted.rss_kib) <= target_rss_mib);
  if (r.getall_at && r.getall_at->expected_agents == target_getall_agents) {
    w.Key("getall_100k_within_300ms");
    w.Bool(r.getall_at->median_ms <= target_getall_ms);
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

void print_table(const options& o, const results& r) {
  auto row = [](const char* what, const std::string& value,
                const std::string& target) {
    std::printf("  %-38s %16s  %s\n", what, value.c_str(), target.c_str());
  };
  auto num = [](double v, const char* unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
    return std::string(buf);
  };
  auto mib = [&](const mem_info& m) {
    return num(kib_to_mib(m.rss_kib), "MiB");
  };
  auto ok = [](bool good) { return std::string(good ? "ok" : "MISSED"); };
  std::printf("\nrecovery-bench: %" PRIu64 " agents, %" PRIu64
              " with a call\n",
              o.agents, o.active);
  row("provisioning (all batches)", num(r.provision_ms, "ms"),
      num(static_cast<double>(o.agents) / (r.provision_ms / 1000.0),
          "agents/s"));
  row("  batch p50 / max",
      num(r.batch_latency.p50, "ms") + " / " + num(r.batch_latency.max, "ms"),
      "");
  if (r.getall_at)
    row(("GetAll at " + std::to_string(r.getall_at->expected_agents)
         + " agents (median)").c_str(),
        num(r.getall_at->median_ms, "ms"),
        r.getall_at->expected_agents == target_getall_agents
          ? "target 300 ms: " + ok(r.getall_at->median_ms <= target_getall_ms)
          : "");
  row("CTI calls started", num(r.cti.total_ms, "ms"),
      std::to_string(r.cti.errors) + " errors");
  row("RSS after provisioning + calls", mib(r.mem_before_stop),
      "target 1024 MiB: "
        + ok(kib_to_mib(r.mem_before_stop.rss_kib) <= target_rss_mib)
        + " (peak " + num(kib_to_mib(r.mem_before_stop.hwm_kib), "MiB)"));
  row("data folder", num(r.data_dir_mib, "MiB"), "");
  row("lookup p50 / p99 (before)",
      num(r.lookups_before.latency.p50 * 1000, "us") + " / "
        + num(r.lookups_before.latency.p99 * 1000, "us"),
      std::to_string(r.lookups_before.errors + r.lookups_before.wrong)
        + " errors");
  row("SIGTERM to exit", num(r.stop_ms, "ms"),
      "exit code " + std::to_string(r.stop_exit));
  row("restart: exec to serving", num(r.serving_ms, "ms"),
      o.agents >= 1'000'000
        ? "target 10000 ms: " + ok(r.serving_ms <= target_serving_ms)
        : "(target applies at 1M agents)");
  row("  server-reported restore", num(static_cast<double>(r.restore.ms), "ms"),
      std::to_string(r.restore.restored) + " agents");
  row("  first answer / first 200 (poller)",
      num(r.poll.first_response_ms, "ms") + " / "
        + num(r.poll.first_200_ms, "ms"),
      "first status " + std::to_string(r.poll.first_status));
  row("RSS after restart", mib(r.mem_restarted),
      "target 1024 MiB: "
        + ok(kib_to_mib(r.mem_restarted.rss_kib) <= target_rss_mib));
  row("lookup p50 / p99 (after)",
      num(r.lookups_after.latency.p50 * 1000, "us") + " / "
        + num(r.lookups_after.latency.p99 * 1000, "us"),
      std::to_string(r.lookups_after.errors + r.lookups_after.wrong)
        + " errors");
  if (r.getall_after)
    row(("GetAll at " + std::to_string(r.getall_after->expected_agents)
         + " agents (median)").c_str(),
        num(r.getall_after->median_ms, "ms"),
        std::to_string(r.getall_after->bytes / 1048576) + " MiB body");
  row("RSS after GetAll", mib(r.mem_after_getall),
      "peak " + num(kib_to_mib(r.mem_after_getall.hwm_kib), "MiB"));
  std::printf("\n");
}

int run(const options& o) {
  results r;
  const active_set calls(o.agents, o.active);
  std::printf("recovery-bench: %" PRIu64 " agents in batches of %" PRIu64
              ", %" PRIu64 " with a call; server %s\n",
              o.agents, o.batch, o.active,
              rapi::test::binary_path().c_str());
  std::fflush(stdout);

  server_options so;
  so.keep_data = o.keep_data;
  so.start_timeout = std::chrono::minutes(5);
  auto t0 = clock::now();
  server_process first(so);
  r.first_start_ms = ms_since(t0);
  std::printf("[start] empty server serving in %.0f ms (pid %d, data %s)\n",
              r.first_start_ms, static_cast<int>(first.pid()),
              first.data_dir().c_str());

  // -- provisioning, with GetAll at the requested size on the way ------------
  http_client admin = first.admin();
  admin.set_timeout(std::chrono::minutes(5));
  http_client api = first.api();
  std::vector<double> batch_ms;
  const auto p0 = clock::now();
  double getall_pause_ms = 0;
  for (std::uint64_t next = 1; next <= o.agents;) {
    std::uint64_t last = std::min(o.agents + 1, next + o.batch);
    if (o.getall_at > 0 && o.getall_at < o.agents && next <= o.getall_at)
      last = std::min(last, o.getall_at + 1); // stop exactly at getall_at
    batch_ms.push_back(provision_range(admin, next, last));
    next = last;
    const mem_info m = read_mem(first.pid());
    std::printf("[provision] %" PRIu64 "/%" PRIu64
                " agents, batch %.0f ms, %.0f agents/s overall, RSS %.0f "
                "MiB\n",
                next - 1, o.agents, batch_ms.back(),
                static_cast<double>(next - 1)
                  / ((ms_since(p0) - getall_pause_ms) / 1000.0),
                kib_to_mib(m.rss_kib));
    std::fflush(stdout);
    if (o.getall_at > 0 && next - 1 == o.getall_at && o.getall_at < o.agents) {
      const auto g0 = clock::now();
      r.getall_at = measure_getall(api, o.getall_runs, o.getall_at, 0);
      print_getall(("at " + std::to_string(o.getall_at)).c_str(),
                   *r.getall_at);
      getall_pause_ms += ms_since(g0);
    }
  }
  r.provision_ms = ms_since(p0) - getall_pause_ms;
  r.batch_latency = summarize(batch_ms);
  r.mem_provisioned = read_mem(first.pid());

  // -- live calls ------------------------------------------------------------
  if (o.active > 0) {
    std::printf("[cti] starting %" PRIu64 " calls from %u threads\n",
                o.active, o.threads);
    std::fflush(stdout);
    r.cti = start_calls(first, calls, o.threads);
    std::printf("[cti] %" PRIu64 " calls in %" PRIu64
                " requests, %.0f ms, %" PRIu64 " errors%s%s\n",
                r.cti.events, r.cti.requests, r.cti.total_ms, r.cti.errors,
                r.cti.first_error.empty() ? "" : "; first: ",
                r.cti.first_error.c_str());
  }
  if (o.getall_at >= o.agents) {
    r.getall_at =
      measure_getall(api, o.getall_runs, o.agents, o.active);
    print_getall("before restart", *r.getall_at);
  }
  r.lookups_before = random_lookups(api, o.lookups, calls, 1);
  r.mem_before_stop = read_mem(first.pid());
  std::printf("[memory] RSS %.0f MiB (peak %.0f MiB) with %" PRIu64
              " agents; lookups p50 %.0f us, %" PRIu64 " errors, %" PRIu64
              " wrong\n",
              kib_to_mib(r.mem_before_stop.rss_kib),
              kib_to_mib(r.mem_before_stop.hwm_kib), o.agents,
              r.lookups_before.latency.p50 * 1000, r.lookups_before.errors,
              r.lookups_before.wrong);
  std::fflush(stdout);

  // -- stop ------------------------------------------------------------------
  api.close();
  admin.close();
  t0 = clock::now();
  r.stop_exit = first.stop(SIGTERM, std::chrono::minutes(2));
  r.stop_ms = ms_since(t0);
  r.data_dir_mib =
    static_cast<double>(dir_bytes(first.data_dir())) / 1048576.0;
  std::printf("[stop] SIGTERM -> exit %d in %.0f ms; data folder %.0f MiB\n",
              r.stop_exit, r.stop_ms, r.data_dir_mib);
  std::fflush(stdout);

  // -- restart on the same data, fixed ports so a poller can watch -----------
  server_options ro;
  ro.data_dir = first.data_dir();
  ro.start_timeout = std::chrono::minutes(5);
  const auto ports = two_free_ports();
  const std::uint16_t port = ports.first;
  ro.extra_args = {"--port", std::to_string(port), "--admin-port",
                   std::to_string(ports.second)};
  std::mt19937_64 rng(7);
  const std::uint64_t probe_id =
    std::uniform_int_distribution<std::uint64_t>(1, o.agents)(rng);
  std::atomic<bool> stop_poll{false};
  std::atomic<bool> poll_done{false};
  std::printf("[restart] restarting on the same data (polling agent %" PRIu64
              ")\n",
              probe_id);
  std::fflush(stdout);
  t0 = clock::now();
  std::thread poller([&] {
    poll_until_200(port, probe_id, t0, stop_poll, std::chrono::minutes(5),
                   r.poll);
    poll_done = true;
  });
  std::optional<server_process> second;
  try {
    second.emplace(ro);
  } catch (...) {
    stop_poll = true;
    poller.join();
    throw;
  }
  r.serving_ms = ms_since(t0);
  r.mem_restarted = read_mem(second->pid());
  // The poller stops by itself at its 200; give it a bounded grace period.
  const auto grace = clock::now();
  while (!poll_done.load() && ms_since(grace) < 10'000
         && second->running())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop_poll = true;
  poller.join();
  r.restore = parse_restore_line(second->output());
  std::printf("[restart] serving after %.0f ms (server: %lld agents restored "
              "in %lld ms); poller: first answer %.0f ms (status %d), first "
              "200 at %.0f ms; RSS %.0f MiB\n",
              r.serving_ms, r.restore.restored, r.restore.ms,
              r.poll.first_response_ms, r.poll.first_status,
              r.poll.first_200_ms, kib_to_mib(r.mem_restarted.rss_kib));
  std::fflush(stdout);

  http_client api2 = second->api();
  r.lookups_after = random_lookups(api2, o.lookups, calls, 2);
  std::printf("[lookup] after restart: p50 %.0f us, p99 %.0f us, %" PRIu64
              " errors, %" PRIu64 " wrong\n",
              r.lookups_after.latency.p50 * 1000,
              r.lookups_after.latency.p99 * 1000, r.lookups_after.errors,
              r.lookups_after.wrong);
  std::printf("[getall] after restart, %" PRIu64 " agents...\n", o.agents);
  std::fflush(stdout);
  r.getall_after = measure_getall(api2, o.getall_runs, o.agents, o.active);
  print_getall("after restart", *r.getall_after);
  r.mem_after_getall = read_mem(second->pid());
  api2.close();
  t0 = clock::now();
  r.final_exit = second->stop(SIGTERM, std::chrono::minutes(2));
  r.final_stop_ms = ms_since(t0);
  second.reset();

  print_table(o, r);
  write_text_file(o.out, to_json(o, r));
  std::printf("results: %s\n", o.out.c_str());
  if (o.keep_data)
    std::printf("data kept: %s\n", first.data_dir().c_str());

  const bool wrong =
    r.cti.errors || r.lookups_before.errors || r.lookups_before.wrong
    || r.lookups_after.errors || r.lookups_after.wrong
    || r.getall_after->errors || (r.getall_at && r.getall_at->errors)
    || r.stop_exit != 0 || r.final_exit != 0
    || r.restore.restored != static_cast<long long>(o.agents);
  if (wrong)
    std::printf("** the server gave wrong answers or errors (see above) **\n");
  return wrong ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  return rapi::bench::bench_main<options>(argc, argv, "recovery-bench", usage_text,
                                          parse_options, run);
}
