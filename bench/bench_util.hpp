#pragma once

/// \file
/// Small helpers shared by the benchmark programs: timing, latency
/// summaries, server memory from /proc, agent provisioning bodies, flag
/// parsing and JSON result files. Header-only; no dependencies beyond the
/// test support library and rapidjson.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "tests/support/http_client.hpp"

namespace rapi::bench {

using clock = std::chrono::steady_clock;

/// Milliseconds from `a` to `b`, fractional.
inline double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Milliseconds from `a` to now, fractional.
inline double ms_since(clock::time_point a) {
  return ms_between(a, clock::now());
}

// -- latency summaries -------------------------------------------------------

/// Summary of a set of latency samples, all in milliseconds.
struct latency_summary {
  std::size_t count = 0;
  double min = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

/// Nearest-rank percentile `p` (0..100) of ascending `sorted`.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(p / 100.0 * sorted.size() + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

/// Sorts `samples` and summarises them.
inline latency_summary summarize(std::vector<double>& samples) {
  latency_summary s;
  s.count = samples.size();
  if (samples.empty())
    return s;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double v : samples)
    sum += v;
  s.min = samples.front();
  s.max = samples.back();
  s.mean = sum / static_cast<double>(samples.size());
  s.p50 = percentile(samples, 50);
  s.p90 = percentile(samples, 90);
  s.p99 = percentile(samples, 99);
  s.p999 = percentile(samples, 99.9);
  return s;
}

// -- server memory -----------------------------------------------------------

/// Resident set size of a process, from /proc/<pid>/status, in KiB
/// (-1 when unreadable).
struct mem_info {
  long rss_kib = -1; ///< VmRSS: resident now
  long hwm_kib = -1; ///< VmHWM: peak resident since start
};

/// Reads VmRSS and VmHWM of `pid`.
inline mem_info read_mem(pid_t pid) {
  mem_info m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto value = [&] { return std::strtol(line.c_str() + 6, nullptr, 10); };
    if (line.rfind("VmRSS:", 0) == 0)
      m.rss_kib = value();
    else if (line.rfind("VmHWM:", 0) == 0)
      m.hwm_kib = value();
  }
  return m;
}

/// KiB as MiB, fractional.
inline double kib_to_mib(long kib) {
  return kib < 0 ? -1.0 : static_cast<double>(kib) / 1024.0;
}

/// Total size in bytes of the regular files under `dir` (0 on error).
inline std::uint64_t dir_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec))
      total += it->file_size(fec);
  }
  return total;
}

// -- agents ------------------------------------------------------------------

/// Appends the provisioning object of synthetic agent `id`; every
/// identifier is unique (spec §3: duplicates are a 409).
inline void append_agent_json(std::string& out, std::uint64_t id) {
  const std::string n = std::to_string(id);
  out += "{\"AgentID\":" + n + ",\"AgentPhone\":\"p" + n
         + "\",\"Username\":\"u" + n + "\",\"CrmUsername\":\"c" + n
         + "@crm\",\"SystemUsername\":\"CORP\\\\s" + n
         + "\",\"BusinessUnit\":" + std::to_string(1 + id % 50)
         + ",\"DeviceId\":" + n + ",\"DeviceAlias\":\"Desk " + n + "\"}";
}

/// The body of `PUT /admin/agents` for agents `first` .. `last - 1`.
inline std::string bulk_body(std::uint64_t first, std::uint64_t last) {
  std::string body;
  body.reserve((last - first) * 200 + 2);
  body.push_back('[');
  for (std::uint64_t id = first; id < last; ++id) {
    if (id != first)
      body.push_back(',');
    append_agent_json(body, id);
  }
  body.push_back(']');
  return body;
}

/// Provisions agents `first` .. `last - 1` in one bulk request; throws
/// std::runtime_error unless the server answers 200 and created them all.
/// Returns the request's latency in ms.
inline double provision_range(test::http_client& admin, std::uint64_t first,
                              std::uint64_t last) {
  const std::string body = bulk_body(first, last);
  const auto t0 = clock::now();
  auto r = admin.put("/admin/agents", body);
  const double ms = ms_since(t0);
  const std::string want = "\"Created\":" + std::to_string(last - first);
  if (r.status != 200 || r.body.find(want) == std::string::npos)
    throw std::runtime_error(
      "PUT /admin/agents [" + std::to_string(first) + ", "
      + std::to_string(last) + ") answered " + std::to_string(r.status)
      + ": " + r.body.substr(0, 300));
  return ms;
}

// -- flags -------------------------------------------------------------------

/// Walks argv; `flag()` / `value()` match one option at a time.
class arg_reader {
public:
  arg_reader(int argc, char** argv) : args_(argv + 1, argv + argc) {}

  /// True while options remain; `current()` is the next one.
  bool more() const { return i_ < args_.size(); }
  const std::string& current() const { return args_[i_]; }

  /// Consumes a valueless `name`.
  bool flag(std::string_view name) {
    if (args_[i_] != name)
      return false;
    ++i_;
    return true;
  }

  /// Consumes `name VALUE` into `out`; throws on a missing value.
  bool value(std::string_view name, std::string& out) {
    if (args_[i_] != name)
      return false;
    if (i_ + 1 >= args_.size())
      throw std::invalid_argument(std::string(name) + " needs a value");
    out = args_[i_ + 1];
    i_ += 2;
    return true;
  }

  /// Consumes `name N` into `out`; throws unless N is a whole number.
  template <class Int>
  bool number(std::string_view name, Int& out) {
    std::string v;
    if (!value(name, v))
      return false;
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n < 0)
      throw std::invalid_argument(std::string(name)
                                  + " needs a non-negative integer, not '"
                                  + v + "'");
    out = static_cast<Int>(n);
    return true;
  }

  /// Consumes `name X` into `out` (a non-negative decimal number).
  bool real(std::string_view name, double& out) {
    std::string v;
    if (!value(name, v))
      return false;
    char* end = nullptr;
    out = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(out >= 0))
      throw std::invalid_argument(std::string(name)
                                  + " needs a non-negative number, not '" + v
                                  + "'");
    return true;
  }

private:
  std::vector<std::string> args_;
  std::size_t i_ = 0;
};

// -- results -----------------------------------------------------------------

/// The JSON writer the result files are made with.
using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

/// Writes `s` as an object of its fields (ms).
inline void write_summary(json_writer& w, const latency_summary& s) {
  w.StartObject();
  w.Key("count");
  w.Uint64(s.count);
  w.Key("min_ms");
  w.Double(s.min);
  w.Key("mean_ms");
  w.Double(s.mean);
  w.Key("p50_ms");
  w.Double(s.p50);
  w.Key("p90_ms");
  w.Double(s.p90);
  w.Key("p99_ms");
  w.Double(s.p99);
  w.Key("p999_ms");
  w.Double(s.p999);
  w.Key("max_ms");
  w.Double(s.max);
  w.EndObject();
}

/// Writes `text` to `path`, creating its folders; throws on failure.
inline void write_text_file(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.has_parent_path())
    fs::create_directories(p.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text << '\n';
  if (!out)
    throw std::runtime_error("cannot write '" + path + "'");
}

/// The default result path `bench/results/<name>` of the source tree.
inline std::string default_result_path(const std::string& name) {
#ifdef RAPI_SOURCE_DIR
  return std::string(RAPI_SOURCE_DIR) + "/bench/results/" + name;
#else
  return "bench/results/" + name;
#endif
}

/// Seconds since the epoch as an ISO 8601 UTC string (for result files).
inline std::string utc_now_text() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The last `n` bytes of `text` (for error reports with server output).
inline std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

/// Opens a results object with what every bench records first: its name,
/// the time (UTC) and the machine's hardware threads.
template <class Writer>
void begin_results(Writer& w, const char* bench) {
  w.StartObject();
  w.Key("bench");
  w.String(bench);
  w.Key("time");
  w.String(utc_now_text().c_str());
  w.Key("hardware_threads");
  w.Uint(std::thread::hardware_concurrency());
}

/// The `main` of a bench program: parses the options (a bad one: the
/// message and the usage on stderr, exit 2), then runs (an exception: its
/// message on stderr, exit 1). SIGPIPE is ignored: a server that dies
/// mid-request is reported, not fatal.
template <class Options>
int bench_main(int argc, char** argv, const char* name, const char* usage,
               Options (*parse)(int, char**), int (*run)(const Options&)) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n%s", name, e.what(), usage);
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

} // namespace rapi::bench
