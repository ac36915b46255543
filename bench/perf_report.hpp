#pragma once

/// \file
/// Turns a recording-bench result file into `docs/performance.md` and a
/// hand-written SVG chart (latency p50/p99 against offered rate for the
/// open-loop steps of `status` and `lifecycle`, server and baseline).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <rapidjson/document.h>

#include "bench/bench_util.hpp"

namespace rapi::bench {

namespace report {

using value = rapidjson::Value;

inline const value* member(const value& v, const char* key) {
  if (!v.IsObject())
    return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

inline double num(const value& v, const char* key, double otherwise = 0) {
  const value* m = member(v, key);
  return m && m->IsNumber() ? m->GetDouble() : otherwise;
}

inline std::string str(const value& v, const char* key) {
  const value* m = member(v, key);
  return m && m->IsString() ? m->GetString() : "";
}

/// `v[a][b]...` or nullptr.
inline const value* path(const value& v,
                         std::initializer_list<const char*> keys) {
  const value* cur = &v;
  for (const char* k : keys) {
    cur = member(*cur, k);
    if (!cur)
      return nullptr;
  }
  return cur;
}

inline double num_at(const value& v, std::initializer_list<const char*> keys,
                     double otherwise = -1) {
  const value* m = path(v, keys);
  return m && m->IsNumber() ? m->GetDouble() : otherwise;
}

inline std::string f(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// 12345.6 -> "12,346".
inline std::string thousands(double v) {
  std::string digits = f("%.0f", v);
  std::string out;
  const bool neg = !digits.empty() && digits[0] == '-';
  if (neg)
    digits.erase(0, 1);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out.push_back(',');
    out.push_back(digits[i]);
  }
  return neg ? "-" + out : out;
}

/// Latency in ms with sensible precision.
inline std::string ms(double v) {
  if (v < 0)
    return "–";
  if (v < 1)
    return f("%.3f", v);
  if (v < 100)
    return f("%.2f", v);
  return thousands(v);
}

// -- SVG ---------------------------------------------------------------------

struct point {
  double x;
  double y;
};

struct series {
  std::string name;
  std::string color;
  bool dashed;
  std::vector<point> points;
};

/// "1k", "20k", "500" for an axis label.
inline std::string rate_label(double x) {
  return x >= 1e6 ? f("%gM", x / 1e6)
         : x >= 1000 ? f("%gk", x / 1000)
                     : f("%g", x);
}

/// One panel at (`ox`, `oy`) of `w` x `h`: log x (req/s), log y (ms).
/// Both axes are logarithmic: the server's and the baseline's rates can be
/// an order of magnitude apart, and so can their latencies.
inline void svg_panel(std::ostringstream& o, double ox, double oy, double w,
                      double h, const std::string& title,
                      const std::vector<series>& ss, double target_ms) {
  const double left = 64, right = 16, top = 30, bottom = 46;
  const double pw = w - left - right, ph = h - top - bottom;
  double xmin = 1e12, xmax = 1, ymin = 1e9, ymax = 0;
  for (auto& s : ss)
    for (auto& p : s.points) {
      xmax = std::max(xmax, p.x);
      if (p.x > 0)
        xmin = std::min(xmin, p.x);
      if (p.y > 0) {
        ymin = std::min(ymin, p.y);
        ymax = std::max(ymax, p.y);
      }
    }
  ymax = std::max(ymax, target_ms);
  if (ymin > ymax)
    ymin = 0.01;
  const double lo = std::floor(std::log10(std::max(ymin, 1e-3)));
  const double hi = std::ceil(std::log10(ymax * 1.01));
  if (xmin > xmax)
    xmin = 1;
  const double xlo = std::log10(xmin / 1.4);
  const double xhi = std::max(xlo + 1, std::log10(xmax * 1.4));
  auto X = [&](double x) {
    const double l = std::log10(std::max(x, std::pow(10.0, xlo)));
    return ox + left + (l - xlo) / (xhi - xlo) * pw;
  };
  auto Y = [&](double y) {
    const double l = std::log10(std::max(y, std::pow(10.0, lo)));
    return oy + top + ph - (l - lo) / (hi - lo) * ph;
  };
  o << "<text x=\"" << ox + left + pw / 2 << "\" y=\"" << oy + 18
    << "\" text-anchor=\"middle\" font-weight=\"bold\">" << title
    << "</text>\n";
  o << "<rect x=\"" << ox + left << "\" y=\"" << oy + top << "\" width=\""
    << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (double d = lo; d <= hi + 1e-9; d += 1) {
    const double y = Y(std::pow(10.0, d));
    o << "<line x1=\"" << ox + left << "\" x2=\"" << ox + left + pw
      << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#e5e5e5\"/>\n";
    const double v = std::pow(10.0, d);
    o << "<text x=\"" << ox + left - 6 << "\" y=\"" << y + 4
      << "\" text-anchor=\"end\">"
      << (v >= 1 ? f("%.0f", v) : f(v >= 0.1 ? "%.1f" : v >= 0.01 ? "%.2f"
                                                                   : "%.3f",
                                    v))
      << "</text>\n";
  }
  for (double d = std::floor(xlo); d < xhi; d += 1)
    for (double m : {1.0, 2.0, 5.0}) {
      const double x = m * std::pow(10.0, d);
      if (std::log10(x) < xlo || std::log10(x) > xhi)
        continue;
      o << "<line x1=\"" << X(x) << "\" x2=\"" << X(x) << "\" y1=\""
        << oy + top << "\" y2=\"" << oy + top + ph << "\" stroke=\""
        << (m == 1.0 ? "#e5e5e5" : "#f3f3f3") << "\"/>\n";
      o << "<text x=\"" << X(x) << "\" y=\"" << oy + top + ph + 16
        << "\" text-anchor=\"middle\">" << rate_label(x) << "</text>\n";
    }
  o << "<text x=\"" << ox + left + pw / 2 << "\" y=\"" << oy + h - 10
    << "\" text-anchor=\"middle\">offered rate (requests/s, log)</text>\n";
  o << "<text transform=\"translate(" << ox + 16 << "," << oy + top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">latency (ms, log)</text>\n";
  if (target_ms > 0) {
    const double y = Y(target_ms);
    o << "<line x1=\"" << ox + left << "\" x2=\"" << ox + left + pw
      << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#d62728\" stroke-dasharray=\"2,3\"/>\n";
    o << "<text x=\"" << ox + left + 4 << "\" y=\"" << y - 4
      << "\" fill=\"#d62728\">p99 target "
      << f("%.0f", target_ms) << " ms</text>\n";
  }
  for (auto& s : ss) {
    if (s.points.empty())
      continue;
    o << "<polyline fill=\"none\" stroke=\"" << s.color
      << "\" stroke-width=\"2\""
      << (s.dashed ? " stroke-dasharray=\"6,4\"" : "")
      << " points=\"";
    for (auto& p : s.points)
      o << X(p.x) << "," << Y(p.y) << " ";
    o << "\"/>\n";
    for (auto& p : s.points)
      o << "<circle cx=\"" << X(p.x) << "\" cy=\"" << Y(p.y)
        << "\" r=\"3\" fill=\"" << s.color << "\"><title>" << s.name << ": "
        << f("%.0f", p.x) << " req/s, " << f("%.3f", p.y)
        << " ms</title></circle>\n";
  }
}

inline std::string render_svg(const value& doc) {
  const std::vector<std::string> names{"status", "lifecycle"};
  std::vector<std::string> present;
  for (auto& n : names)
    if (path(doc, {"scenarios", n.c_str()}))
      present.push_back(n);
  const double pw = 480, ph = 340;
  const double width = pw * std::max<std::size_t>(1, present.size());
  const double height = ph + 44;
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
    << height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t i = 0; i < present.size(); ++i) {
    const value* sc = path(doc, {"scenarios", present[i].c_str()});
    std::vector<series> ss;
    for (const char* kind : {"server", "baseline"}) {
      const bool server = std::string(kind) == "server";
      const std::string color = server ? "#1f77b4" : "#7f7f7f";
      series p50{std::string(kind) + " p50", color, false, {}};
      series p99{std::string(kind) + " p99", color, true, {}};
      if (const value* open = path(*sc, {kind, "open"});
          open && open->IsArray())
        for (auto& step : open->GetArray()) {
          const double x = num(step, "offered_per_s");
          p50.points.push_back({x, num_at(step, {"latency", "p50_ms"}, 0)});
          p99.points.push_back({x, num_at(step, {"latency", "p99_ms"}, 0)});
        }
      ss.push_back(p50);
      ss.push_back(p99);
    }
    svg_panel(o, pw * static_cast<double>(i), 0, pw, ph,
              present[i] + ": latency vs offered rate (open loop)", ss, 2.0);
  }
  // Legend.
  const double ly = ph + 18;
  double lx = 70;
  for (auto [label, color, dashed] :
       {std::tuple{"server p50", "#1f77b4", false},
        std::tuple{"server p99", "#1f77b4", true},
        std::tuple{"baseline p50", "#7f7f7f", false},
        std::tuple{"baseline p99", "#7f7f7f", true}}) {
    o << "<line x1=\"" << lx << "\" x2=\"" << lx + 28 << "\" y1=\"" << ly
      << "\" y2=\"" << ly << "\" stroke=\"" << color
      << "\" stroke-width=\"2\""
      << (dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
    o << "<text x=\"" << lx + 34 << "\" y=\"" << ly + 4 << "\">" << label
      << "</text>\n";
    lx += 130;
  }
  o << "<text x=\"70\" y=\"" << ly + 20
    << "\" fill=\"#555\">latency measured from each request's scheduled "
       "send time; rates are fractions of each target's own closed-loop "
       "maximum</text>\n";
  o << "</svg>\n";
  return o.str();
}

// -- markdown ----------------------------------------------------------------

inline std::string phase_row(const std::string& first, const value& p,
                             bool open) {
  std::string row = "| " + first + " | ";
  if (open)
    row += thousands(num(p, "offered_per_s")) + " | ";
  row += thousands(num(p, "req_per_s")) + " | "
         + ms(num_at(p, {"latency", "p50_ms"})) + " | "
         + ms(num_at(p, {"latency", "p90_ms"})) + " | "
         + ms(num_at(p, {"latency", "p99_ms"})) + " | "
         + ms(num_at(p, {"latency", "p999_ms"})) + " | "
         + thousands(num(p, "errors") + num(p, "failures")
                     + num(p, "timeouts"))
         + " | ";
  if (open)
    row += ms(num_at(p, {"service", "p99_ms"})) + " | "
           + thousands(num(p, "late")) + " | ";
  row += f("%.0f %%", num(p, "server_cpu_pct")) + " | "
         + f("%.0f %%", num(p, "client_cpu_pct")) + " | "
         + f("%.0f %%", num(p, "other_processes_cpu_pct")) + " | "
         + f("%.0f MiB", num(p, "rss_mib")) + " |\n";
  return row;
}

/// Machine-table rows of the idle stall probe (bench/stall_probe.hpp), or
/// nothing for results written before it.
inline std::string stall_rows(const value& doc) {
  const value* runs = member(doc, "machine_stalls");
  if (!runs || !runs->IsArray())
    return {};
  std::string rows;
  for (auto& run : runs->GetArray())
    rows += "| stalls of an idle CPU, " + str(run, "when")
            + " (a thread per CPU reading the clock for "
            + f("%g", num(run, "seconds"))
            + " s: gaps it saw, i.e. time the CPU ran something else) | "
            + str(run, "summary") + " |\n";
  return rows;
}

inline std::string render_markdown(const value& doc,
                                   const std::string& notes) {
  std::ostringstream o;
  const value* machine = member(doc, "machine");
  const value* params = member(doc, "params");
  const value empty_obj(rapidjson::kObjectType);
  const value& m = machine ? *machine : empty_obj;
  const value& pa = params ? *params : empty_obj;
  const bool quick = member(pa, "quick") && pa["quick"].IsBool()
                     && pa["quick"].GetBool();

  o << "# Performance\n\n"
    << "<!-- Generated by scripts/bench.sh (`recording-bench --render`) "
       "from bench/results/recording.json.\n     Edit "
       "bench/performance_notes.md for the analysis, not this file. -->\n\n"
    << "Measured " << str(doc, "time");
  if (!str(doc, "commit").empty())
    o << " at commit `" << str(doc, "commit") << "`";
  o << " by `recording-bench` (`bench/`), client and server on the same "
       "machine. Every ratio compares the server with a RESTinio baseline "
       "measured in the same run with identical client settings.";
  if (quick)
    o << " **This was a `--quick` run: sizes and durations are too small "
         "for the targets.**";
  o << "\n\n## Machine and setup\n\n| | |\n|---|---|\n"
    << "| CPU | " << str(m, "cpu_model") << ", `nproc` "
    << f("%.0f", num(m, "nproc")) << " |\n"
    << "| memory | " << thousands(num(m, "mem_total_mib")) << " MiB |\n"
    << "| kernel | " << str(m, "kernel") << " |\n"
    << stall_rows(doc)
    << "| server | `recording-api`, Release, default configuration: "
       "`server.threads` 2 (a lane per thread: its own io_context, API "
       "connections spread over the lanes in turn, no strands; "
       "`server.pin_threads` true: each lane's thread on a CPU of its "
       "own), "
       "`server.actor_threads` 0 (agent actors on the HTTP "
       "threads), `storage.sync` false with the write-behind journal "
       "(a 200 means the change is in the journal, folded into RocksDB "
       "every 250 ms: `docs/durability.md`), `log.level` "
    << str(pa, "server_log")
    << " (info: one JSON line per request, to a pipe the bench drains); "
       "a fresh data folder per scenario in $TMPDIR |\n"
    << "| baseline | `baseline-server` (`bench/baseline_server.cpp`): "
       "RESTinio with the server's limits, "
    << f("%.0f", num(pa, "baseline_threads"))
    << " threads on one io_context (RESTinio's usual set-up: faster for "
       "this server than the real server's lanes, `--lanes 1`), two "
       "listeners, every request answered "
       "200 `{\"Status\":\"Ok\"}` synchronously |\n"
    << "| client | " << f("%.0f", num(pa, "client_threads"))
    << " thread(s), epoll, keep-alive HTTP/1.1, no pipelining; "
    << f("%.0f", num(pa, "connections")) << " connections closed loop, "
    << f("%.0f", num(pa, "open_connections"))
    << " open loop; closed loop " << f("%g", num(pa, "seconds"))
    << " s after " << f("%g", num(pa, "warmup")) << " s warm-up"
    << (num(pa, "closed_runs") > 1
          ? ", measured " + f("%.0f", num(pa, "closed_runs"))
              + " times per target"
              + (member(pa, "closed_runs_alternate")
                   ? std::string(", the baseline's and the server's runs "
                                 "alternating")
                   : std::string())
              + " (the run with the median req/s counts)"
          : std::string())
    << ", each open-loop step " << f("%g", num(pa, "step_seconds"))
    << " s after " << f("%g", num(pa, "step_warmup")) << " s"
    << (num(pa, "half_step_seconds") > 0
            && num(pa, "half_step_seconds") != num(pa, "step_seconds")
          ? " (the step at half the maximum, whose p99 is a target, "
              + f("%g", num(pa, "half_step_seconds")) + " s"
              + (num(pa, "half_runs") > 1
                   ? ", measured " + f("%.0f", num(pa, "half_runs"))
                       + " times per target: the run with the median p99 "
                         "counts, and the table below shows it"
                   : std::string())
              + ")"
          : std::string())
    << " |\n\n";

  o << "## Targets\n\n| target | measured | limit | result |\n"
       "|---|---|---|---|\n";
  if (const value* v = member(doc, "verdict"); v && v->IsArray())
    for (auto& t : v->GetArray()) {
      const bool applies = t["applies"].GetBool();
      const bool met = t["met"].GetBool();
      const value* info = member(t, "information");
      // Results written before the flag say so in the target's text.
      const bool information =
        info && info->IsBool()
          ? info->GetBool()
          : str(t, "target").find("information)") != std::string::npos;
      o << "| " << str(t, "target") << " | " << str(t, "measured") << " | "
        << str(t, "limit") << " | "
        << (!applies      ? "not applicable (smaller run)"
            : information ? (met ? "within (not a target)"
                                 : "over (not a target)")
            : met         ? "**met**"
                          : "**missed**")
        << " |\n";
    }
  o << "\n";

  const value* scenarios = member(doc, "scenarios");
  const value& sc = scenarios ? *scenarios : empty_obj;
  const bool have_load = member(sc, "status") || member(sc, "lifecycle");
  if (have_load) {
    o << "## Maximum throughput (closed loop)\n\n"
         "Latency from the send; CPU is % of one core (the machine has "
      << f("%.0f", num(m, "nproc") * 100)
      << " %), measured over the window from /proc; *other CPU* is what "
         "the rest of the machine used meanwhile (busy time minus irq, "
         "steal, server and client: other processes), which should be "
         "near 0; "
         "RSS is the server's at the end of the window.\n\n"
         "| scenario / target | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms "
         "| errors | server CPU | client CPU | other CPU | server RSS |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const char* name : {"status", "lifecycle"}) {
      const value* s = member(sc, name);
      if (!s)
        continue;
      for (const char* kind : {"baseline", "server"})
        if (const value* c = path(*s, {kind, "closed"}))
          o << phase_row(std::string(name) + " / " + kind, *c, false);
    }
    o << "\n";
    for (const char* name : {"status", "lifecycle"})
      if (const value* s = member(sc, name))
        o << "- **" << name << "**: server / baseline = **"
          << f("%.3f", num(*s, "ratio")) << "** ("
          << thousands(num(*s, "agents")) << " agents"
          << (std::string(name) == "lifecycle"
                && num(pa, "prime_calls") > 0
                ? ", each primed with "
                    + f("%.0f", num(pa, "prime_calls"))
                    + " calls before the measurements; while priming "
                    + thousands(num_at(*s, {"server", "prime_req_per_s"}))
                    + " req/s, baseline "
                    + thousands(num_at(*s, {"baseline", "prime_req_per_s"}))
                : std::string())
          << ")\n";
    for (const char* name : {"status", "lifecycle"})
      if (const value* s = member(sc, name))
        if (const std::string fail = str((*s)["server"], "failure");
            !fail.empty())
          o << "- " << name << " server run failed: `" << fail << "`\n";
    o << "\n## Latency against offered rate (open loop)\n\n"
         "![latency p50/p99 against offered rate](performance.svg)\n\n"
         "Requests are due on a fixed schedule at a fraction of the "
         "target's own closed-loop maximum; latency runs from the "
         "scheduled send time, so a stall is charged to every request it "
         "delays (no coordinated omission). *p99 from send*: the same "
         "answers timed from the moment the client actually sent them "
         "(without the client's own delays). *late*: requests sent more "
         "than "
      << f("%g", num(pa, "late_ms"))
      << " ms after their time (client behind or no free connection).\n\n"
         "| scenario / target / step | offered/s | req/s | p50 ms | p90 ms "
         "| p99 ms | p99.9 ms | errors | p99 from send | late | server CPU "
         "| client CPU | other CPU | server RSS |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const char* name : {"status", "lifecycle"}) {
      const value* s = member(sc, name);
      if (!s)
        continue;
      for (const char* kind : {"baseline", "server"})
        if (const value* open = path(*s, {kind, "open"});
            open && open->IsArray())
          for (auto& p : open->GetArray())
            o << phase_row(std::string(name) + " / " + kind + " / "
                             + f("%.0f %%", num(p, "fraction") * 100),
                           p, true);
    }
    o << "\n";
    if (const value* ops = path(sc, {"lifecycle", "server", "closed",
                                     "per_op"});
        ops && ops->IsObject()) {
      o << "### Lifecycle operations (server, closed loop)\n\n"
           "Each simulated agent walks CallStarted, Record/Start, "
           "[ScreenRecord/Start], Record/Update, [Record/StartDuplicate], "
           "Blackout/Start, Blackout/Stop, [Record/StopDuplicate], "
           "[ScreenRecord/Stop], Record/Stop, CallEnded; screen recordings "
           "on "
        << f("%.0f %%", num(pa, "screen_share") * 100)
        << " of calls, duplicates on "
        << f("%.0f %%", num(pa, "duplicate_share") * 100) << ". "
        << thousands(num_at(sc, {"lifecycle", "server", "calls_completed"}))
        << " calls completed in all ("
        << thousands(num_at(sc, {"lifecycle", "server", "primed_calls"}))
        << " of them priming: every agent first makes "
        << f("%.0f", num(pa, "prime_calls"))
        << " calls, unmeasured, so that it carries the recent recordings "
           "and blackouts a working agent has).\n\n"
           "| operation | count | p50 ms | p99 ms | p99.9 ms |\n"
           "|---|---|---|---|---|\n";
      for (auto& op : ops->GetObject())
        o << "| " << op.name.GetString() << " | "
          << thousands(num(op.value, "count")) << " | "
          << ms(num(op.value, "p50_ms")) << " | "
          << ms(num(op.value, "p99_ms")) << " | "
          << ms(num(op.value, "p999_ms")) << " |\n";
      o << "\n";
    }
    o << "### Server threads (closed loop, % of one core)\n\n"
         "| scenario | threads |\n|---|---|\n";
    for (const char* name : {"status", "lifecycle"})
      if (const value* th = path(sc, {name, "server", "closed",
                                      "server_threads_cpu_pct"});
          th && th->IsObject()) {
        o << "| " << name << " | ";
        bool first = true;
        for (auto& t : th->GetObject()) {
          o << (first ? "" : ", ") << "`" << t.name.GetString() << "` "
            << f("%.0f %%", t.value.GetDouble());
          first = false;
        }
        o << " |\n";
      }
    o << "\n";
  }

  if (const value* g = member(sc, "getall")) {
    o << "## GetAll\n\n`GET /api/Agent/GetAll` from one keep-alive "
         "connection, agents without calls.\n\n"
         "| agents | body | median | best | runs | server RSS after |\n"
         "|---|---|---|---|---|---|\n";
    if (const value* sizes = member(*g, "sizes"); sizes && sizes->IsArray())
      for (auto& s : sizes->GetArray()) {
        std::string runs;
        for (auto& r : s["runs_ms"].GetArray())
          runs += (runs.empty() ? "" : ", ") + f("%.0f", r.GetDouble());
        o << "| " << thousands(num(s, "agents")) << " | "
          << f("%.1f MiB", num(s, "bytes") / 1048576.0) << " | "
          << f("%.0f ms", num(s, "median_ms")) << " | "
          << f("%.0f ms", num(s, "best_ms")) << " | " << runs << " ms | "
          << f("%.0f MiB", num(s, "rss_mib"))
          << (s["valid"].GetBool() ? "" : " (WRONG ANSWER)") << " |\n";
      }
    o << "\n";
  }

  if (const value* rb = path(sc, {"provision", "recovery_bench"});
      rb && rb->IsObject()) {
    const double agents = num_at(*rb, {"params", "agents"});
    o << "## " << thousands(agents)
      << " agents: provisioning and restart\n\n"
         "From `recovery-bench` (run by `recording-bench`; "
      << thousands(num_at(*rb, {"params", "active"}))
      << " agents with a live call), bulk `PUT /admin/agents` of "
      << thousands(num_at(*rb, {"params", "batch"}))
      << " agents each, SIGTERM, restart on the same data folder.\n\n"
         "| | |\n|---|---|\n"
      << "| provisioning | "
      << f("%.1f s", num_at(*rb, {"provision", "total_ms"}) / 1000) << " ("
      << thousands(num_at(*rb, {"provision", "agents_per_s"}))
      << " agents/s) |\n"
      << "| server RSS after provisioning | "
      << f("%.0f MiB", num_at(*rb, {"before_restart", "memory", "rss_mib"}))
      << " (peak "
      << f("%.0f MiB",
           num_at(*rb, {"before_restart", "memory", "peak_rss_mib"}))
      << ") |\n"
      << "| data folder | "
      << f("%.0f MiB", num_at(*rb, {"before_restart", "data_dir_mib"}))
      << " |\n"
      << "| SIGTERM to exit | "
      << f("%.0f ms", num_at(*rb, {"before_restart", "sigterm_stop_ms"}))
      << " |\n"
      << "| restart: exec to serving | "
      << f("%.0f ms", num_at(*rb, {"restart", "serving_ms"}))
      << " (server-reported restore "
      << f("%.0f ms", num_at(*rb, {"restart", "server_reported_restore_ms"}))
      << ") |\n"
      << "| server RSS after restart | "
      << f("%.0f MiB", num_at(*rb, {"restart", "memory", "rss_mib"}))
      << " |\n"
      << "| lookups after restart, p50 / p99 | "
      << ms(num_at(*rb, {"restart", "lookups", "latency", "p50_ms"}))
      << " / "
      << ms(num_at(*rb, {"restart", "lookups", "latency", "p99_ms"}))
      << " ms |\n"
      << "| GetAll with all " << thousands(agents) << " agents | "
      << f("%.0f ms", num_at(*rb, {"restart", "getall", "median_ms"}))
      << ", "
      << f("%.0f MiB", num_at(*rb, {"restart", "getall", "bytes"}) / 1048576)
      << " body; RSS after "
      << f("%.0f MiB",
           num_at(*rb, {"restart", "memory_after_getall", "rss_mib"}))
      << " |\n\n";
  }

  if (!notes.empty())
    o << notes << (notes.back() == '\n' ? "" : "\n") << "\n";

  o << "## How to reproduce\n\n"
       "```sh\n"
       "bash scripts/bench.sh            # Release build, whole suite, "
       "rewrites this page and performance.svg\n"
       "bash scripts/bench.sh --seconds 10 --step-seconds 5   # flags go to "
       "recording-bench\n"
       "build/bench/recording-bench --scenarios status,lifecycle "
       "--agents 10000\n"
       "build/bench/recording-bench --quick   # what `ctest -R bench_quick` "
       "runs: proves the tool works, judges nothing\n"
       "# profile: the server alone under the lifecycle closed loop\n"
       "build/bench/recording-bench --scenarios lifecycle --targets server "
       "--seconds 30 --steps 0.5 &\n"
       "sleep 25; perf record -F 999 --call-graph dwarf -p \"$(pgrep -n "
       "recording-api)\" -- sleep 8\n"
       "```\n\n"
       "The whole suite takes 3–6 minutes (priming the lifecycle agents "
       "takes longest). "
       "Run it on an otherwise idle machine: the client shares the cores "
       "with the server, and other load moves the numbers by 10-20 %. "
       "The script leaves the raw numbers (with a 250 ms timeline of "
       "every phase) in `bench/results/recording.json`, which git "
       "ignores; `recording-bench --render FILE --markdown OUT --svg OUT "
       "--notes bench/performance_notes.md` redraws this page from such a "
       "file.\n";
  return o.str();
}

} // namespace report

/// `--render`: reads `json_path`, writes the markdown and/or SVG.
inline int render_report(const std::string& json_path,
                         const std::string& md_path,
                         const std::string& svg_path,
                         const std::string& notes_path) {
  std::ifstream in(json_path);
  if (!in)
    throw std::runtime_error("cannot read '" + json_path + "'");
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error("'" + json_path + "' is not a result file");
  std::string notes;
  if (!notes_path.empty()) {
    std::ifstream n(notes_path);
    if (!n)
      throw std::runtime_error("cannot read '" + notes_path + "'");
    notes.assign(std::istreambuf_iterator<char>(n),
                 std::istreambuf_iterator<char>());
  }
  if (!md_path.empty()) {
    std::string md = report::render_markdown(doc, notes);
    if (!md.empty() && md.back() == '\n')
      md.pop_back(); // write_text_file adds it
    write_text_file(md_path, md);
    std::printf("wrote %s\n", md_path.c_str());
  }
  if (!svg_path.empty()) {
    std::string svg = report::render_svg(doc);
    svg.pop_back();
    write_text_file(svg_path, svg);
    std::printf("wrote %s\n", svg_path.c_str());
  }
  return 0;
}

} // namespace rapi::bench
