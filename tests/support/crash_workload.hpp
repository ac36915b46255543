#pragma once

/// \file
/// The crash workload behind `tests/integration/crash_test.cpp` (short
/// form) and `bench/crash_bench.cpp` (long form): client threads drive a
/// mixed write load against the real server, which is killed with SIGKILL
/// at a random moment, restarted on the same data folder and checked:
/// every acknowledged change must be there and nothing half-applied may be
/// visible (contract §7).
///
/// Why the check is exact: every client thread owns a disjoint set of
/// agents and sends their requests strictly one after another, following a
/// fixed per-agent script (`append_round`). So after a restart each agent
/// must look exactly like the script after its last acknowledged step, or
/// after one step more when a request of it was in flight at the kill.
/// `agent_model` replays the script; the checker compares the agent object,
/// every recording it lists, and the agent's whole recording index with it.
/// One more agent per thread only schedules blackouts (a start, then a stop,
/// a few hundred milliseconds ahead): after a restart its schedule must be
/// the acknowledged one and still armed, i.e. reach its end by itself.
///
/// Header-only, because both users already link RapidJSON and the support
/// library does not.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace rapi::test::crash {

// -- configuration and results ------------------------------------------------

/// How to run the workload.
struct crash_config {
  /// Kill/restart/verify cycles.
  unsigned cycles = 3;
  /// Client threads; each owns `agents_per_thread` agents of its own.
  unsigned threads = 4;
  unsigned agents_per_thread = 3;
  /// Each cycle's load runs for a random time in [min_load, max_load]
  /// before the kill.
  std::chrono::milliseconds min_load{300};
  std::chrono::milliseconds max_load{1500};
  /// Drives the kill moments and the clients' choice of agent.
  std::uint64_t seed = 20261130;
  /// `--agents` for the server; empty: none.
  std::string agents_file;
  /// Further server arguments (e.g. `--config` for fsync mode).
  std::vector<std::string> extra_args;
  /// Progress lines go here when set.
  std::ostream* log = nullptr;
};

/// The numbers of one cycle.
struct cycle_stats {
  unsigned cycle = 0;
  std::int64_t kill_after_ms = 0;
  /// Requests answered 200 during the load.
  std::uint64_t acknowledged = 0;
  /// Requests in flight at the kill, and how many of them took effect.
  std::uint64_t cut = 0;
  std::uint64_t cut_applied = 0;
  /// Acknowledged requests whose effect was found after the restart.
  std::uint64_t verified = 0;
  /// Recording objects compared with the model after the restart.
  std::uint64_t recordings_checked = 0;
  std::uint64_t failures = 0;
  double restart_ms = 0;
  double verify_ms = 0;
};

/// What a run found.
struct crash_result {
  std::uint64_t seed = 0;
  unsigned cycles = 0;
  unsigned agents = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t verified = 0;
  std::uint64_t cut = 0;
  std::uint64_t cut_applied = 0;
  std::uint64_t recordings_checked = 0;
  /// Time under load (summed over the cycles) and in all.
  double load_seconds = 0;
  double seconds = 0;
  /// The data folder, kept for a post-mortem when a check failed.
  std::string data_dir;
  std::vector<cycle_stats> per_cycle;
  /// Every failed check, one sentence each (the first 100).
  std::vector<std::string> failures;
  std::uint64_t failure_count = 0;

  bool ok() const { return failure_count == 0; }
};

namespace detail {

// -- the per-agent script -----------------------------------------------------

enum class op : std::uint8_t {
  call_started,
  record_start,
  record_update,
  blackout_start,
  blackout_stop,
  duplicate_start,
  duplicate_stop,
  screen_start,
  screen_stop,
  record_stop,
  call_ended,
  profile_put,
  agent_delete,
  agent_create,
  desktop_start,
  desktop_stop,
};

inline const char* to_string(op o) {
  switch (o) {
    case op::call_started:
      return "CallStarted";
    case op::record_start:
      return "Record/Start";
    case op::record_update:
      return "Record/Update";
    case op::blackout_start:
      return "Blackout/Start";
    case op::blackout_stop:
      return "Blackout/Stop";
    case op::duplicate_start:
      return "Record/StartDuplicate";
    case op::duplicate_stop:
      return "Record/StopDuplicate";
    case op::screen_start:
      return "ScreenRecord/Start";
    case op::screen_stop:
      return "ScreenRecord/Stop";
    case op::record_stop:
      return "Record/Stop";
    case op::call_ended:
      return "CallEnded";
    case op::profile_put:
      return "PUT profile";
    case op::agent_delete:
      return "DELETE agent";
    case op::agent_create:
      return "PUT new agent";
    case op::desktop_start:
      return "ScreenRecord/Start (desktop)";
    case op::desktop_stop:
      return "ScreenRecord/Stop (desktop)";
  }
  return "?";
}

/// One request of the script; `value` is the user1 value or DeviceAlias.
struct step {
  op what = op::call_started;
  unsigned round = 0;
  std::string value;
};

/// The recordings one round makes. A slot names one recording of the
/// script: `round * 4 + role`.
enum role : int { audio_role = 0, side_role = 1, desktop_role = 2 };

inline std::int64_t slot_of(unsigned round, int r) {
  return static_cast<std::int64_t>(round) * 4 + r;
}

/// The slot of the recording `s` creates, if it creates one.
inline std::optional<std::int64_t> created_slot(const step& s) {
  switch (s.what) {
    case op::record_start:
      return slot_of(s.round, audio_role);
    case op::duplicate_start:
    case op::screen_start:
      return slot_of(s.round, side_role);
    case op::desktop_start:
      return slot_of(s.round, desktop_role);
    default:
      return std::nullopt;
  }
}

/// The slot of the recording `s` stops by name, if it stops one.
inline std::optional<std::int64_t> stopped_slot(const step& s) {
  switch (s.what) {
    case op::record_stop:
      return slot_of(s.round, audio_role);
    case op::duplicate_stop:
    case op::screen_stop:
      return slot_of(s.round, side_role);
    case op::desktop_stop:
      return slot_of(s.round, desktop_role);
    default:
      return std::nullopt;
  }
}

/// Appends round `r` of an agent's script: a call with an audio recording,
/// two metadata updates, a blackout, a duplicate or call screen recording
/// (stopped by the API, or left to CallEnded), then the call ends; every
/// third round changes the profile, every third runs a desktop-only screen
/// session, and every fifth removes the agent mid-call and provisions it
/// again. Every step changes what `GET /api/Agent` shows, so the checker
/// can always tell whether the step in flight at a kill took effect.
inline void append_round(std::vector<step>& out, unsigned r) {
  const auto tag = std::to_string(r);
  const bool duplicate = r % 2 == 0;
  const bool api_stops_side = r % 4 < 2;
  out.push_back({op::call_started, r, {}});
  out.push_back({op::record_start, r, {}});
  out.push_back({op::record_update, r, "r" + tag + "-a"});
  out.push_back({op::blackout_start, r, {}});
  out.push_back({duplicate ? op::duplicate_start : op::screen_start, r, {}});
  out.push_back({op::blackout_stop, r, {}});
  out.push_back({op::record_update, r, "r" + tag + "-b"});
  if (r % 5 == 4) {
    out.push_back({op::agent_delete, r, {}});
    out.push_back({op::agent_create, r, "alias-" + tag});
    return;
  }
  if (api_stops_side)
    out.push_back({duplicate ? op::duplicate_stop : op::screen_stop, r, {}});
  out.push_back({op::record_stop, r, {}});
  out.push_back({op::call_ended, r, {}});
  if (r % 3 == 0)
    out.push_back({op::profile_put, r, "alias-" + tag});
  if (r % 3 == 1) {
    out.push_back({op::desktop_start, r, {}});
    out.push_back({op::desktop_stop, r, {}});
  }
}

// -- the model ----------------------------------------------------------------

/// What one recording of the script must look like.
struct rec_model {
  const char* kind = "Audio";
  bool running = true;
  const char* reason = nullptr;
  /// CallInstance; empty for a desktop-only session.
  std::string call;
  /// Metadata user1; empty when absent.
  std::string user1;
};

/// What one agent must look like after a prefix of its script.
struct agent_model {
  std::int64_t id = 0;
  bool exists = true;
  /// DeviceAlias; empty is null.
  std::string alias;
  /// The active call's CallInstance; empty when on no call.
  std::string call;
  /// The active call's Metadata user1; empty when absent.
  std::string user1;
  bool blackout = false;
  /// The active call's recordings, oldest first.
  std::vector<std::int64_t> call_recs;
  std::optional<std::int64_t> desktop;
  /// Every recording the script made so far.
  std::map<std::int64_t, rec_model> recs;

  std::string call_id(unsigned round) const {
    return "c" + std::to_string(id) + "-" + std::to_string(round);
  }

  /// The state after `s` (the contract's §4-§6 for this script).
  void apply(const step& s) {
    auto start = [&](std::int64_t slot, const char* kind, bool on_call) {
      rec_model r;
      r.kind = kind;
      if (on_call) {
        r.call = call;
        r.user1 = user1;
        call_recs.push_back(slot);
      } else {
        desktop = slot;
      }
      recs[slot] = std::move(r);
    };
    auto stop = [&](std::int64_t slot, const char* why) {
      auto& r = recs.at(slot);
      if (r.running) {
        r.running = false;
        r.reason = why;
      }
    };
    auto leave_call = [&](const char* why) {
      for (auto slot : call_recs)
        stop(slot, why);
      call.clear();
      user1.clear();
      call_recs.clear();
    };
    switch (s.what) {
      case op::call_started:
        call = call_id(s.round);
        user1.clear();
        call_recs.clear();
        break;
      case op::record_start:
        start(slot_of(s.round, audio_role), "Audio", true);
        break;
      case op::duplicate_start:
        start(slot_of(s.round, side_role), "Duplicate", true);
        break;
      case op::screen_start:
        start(slot_of(s.round, side_role), "Screen", true);
        break;
      case op::desktop_start:
        start(slot_of(s.round, desktop_role), "Screen", false);
        break;
      case op::record_update:
        user1 = s.value;
        for (auto slot : call_recs)
          if (recs.at(slot).running)
            recs.at(slot).user1 = user1;
        break;
      case op::blackout_start:
        blackout = true;
        break;
      case op::blackout_stop:
        blackout = false;
        break;
      case op::record_stop:
      case op::duplicate_stop:
      case op::screen_stop:
        stop(*stopped_slot(s), "Api");
        break;
      case op::desktop_stop:
        stop(*stopped_slot(s), "Api");
        desktop.reset();
        break;
      case op::call_ended:
        leave_call("CallEnded");
        break;
      case op::profile_put:
        alias = s.value;
        break;
      case op::agent_delete:
        leave_call("AgentRemoved");
        if (desktop)
          stop(*desktop, "AgentRemoved");
        desktop.reset();
        exists = false;
        blackout = false;
        alias.clear();
        break;
      case op::agent_create:
        exists = true;
        alias = s.value;
        break;
    }
  }
};

// -- JSON helpers -------------------------------------------------------------

inline const rapidjson::Value* member(const rapidjson::Value& v,
                                      const char* name) {
  if (!v.IsObject())
    return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

/// A JSON value as text for comparisons: strings bare, numbers and
/// booleans as written, null as "null", a missing member as "(absent)".
inline std::string text(const rapidjson::Value* v) {
  if (v == nullptr)
    return "(absent)";
  if (v->IsNull())
    return "null";
  if (v->IsString())
    return v->GetString();
  if (v->IsBool())
    return v->GetBool() ? "true" : "false";
  if (v->IsInt64())
    return std::to_string(v->GetInt64());
  return "(object)";
}

inline std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

inline std::string clip(const std::string& s, std::size_t n = 600) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

/// "" when `what` is `want`, else a sentence saying what differs.
inline std::string expect(const std::string& what, const std::string& got,
                          const std::string& want) {
  return got == want ? std::string{}
                     : what + " is '" + got + "', expected '" + want + "'";
}

/// Compares one recording object with the model; "" when it matches.
inline std::string check_recording(const rapidjson::Value& r,
                                   std::int64_t agent_id, const rec_model& m,
                                   bool blackout) {
  if (!r.IsObject())
    return "a recording is not a JSON object";
  const std::string id = text(member(r, "RecordingIdentifier"));
  std::string why;
  auto check = [&](const std::string& w) {
    if (why.empty() && !w.empty())
      why = "recording " + id + ": " + w;
  };
  check(expect("Kind", text(member(r, "Kind")), m.kind));
  check(expect("IsDuplicate", text(member(r, "IsDuplicate")),
               std::string(m.kind) == "Duplicate" ? "true" : "false"));
  check(expect("RecordingState", text(member(r, "RecordingState")),
               m.running ? "Recording" : "Completed"));
  check(expect("StopReason", text(member(r, "StopReason")),
               m.running ? "null" : m.reason));
  if (m.running)
    check(expect("StopTime", text(member(r, "StopTime")), "null"));
  else if (text(member(r, "StopTime")) == "null")
    check("StopTime is null on a completed recording");
  check(expect("AgentId", text(member(r, "AgentId")),
               std::to_string(agent_id)));
  check(expect("CallInstance", text(member(r, "CallInstance")),
               m.call.empty() ? "null" : m.call));
  const rapidjson::Value* meta = member(r, "Metadata");
  check(expect("Metadata.user1",
               meta == nullptr ? "(no Metadata)"
                               : text(member(*meta, "user1")),
               m.user1.empty() ? "(absent)" : m.user1));
  const rapidjson::Value* bl = member(r, "Blackouts");
  if (bl == nullptr || !bl->IsArray()) {
    check("Blackouts is not an array");
  } else {
    bool open = false;
    for (auto& i : bl->GetArray())
      if (text(member(i, "StopTime")) == "null")
        open = true;
    const bool want = m.running && blackout;
    if (open != want)
      check(want ? "no open blackout interval while the agent's blackout "
                   "runs"
                 : "an open blackout interval while no blackout runs");
  }
  return why;
}

// -- scheduled blackouts ------------------------------------------------------

/// Milliseconds since the epoch on the wall clock, which the server uses
/// too (same machine).
inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// `ms` as the server renders times: `2026-11-30T10:15:30.123+00:00`.
inline std::string iso_ms(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+00:00",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

/// A blackout scheduled from `start` to `stop` (ms since the epoch).
struct schedule {
  std::int64_t start = 0;
  std::int64_t stop = 0;
};

/// What a timer agent's blackout must be after a prefix of its script
/// (rounds of: Blackout/Start at `start`, Blackout/Stop at `stop`).
struct timer_model {
  /// Whether a start was acknowledged at all, and the last one's times.
  bool started = false;
  schedule last;
  /// Whether the last start's stop was acknowledged too.
  bool stop_given = false;

  void apply_start(const schedule& s) {
    started = true;
    last = s;
    stop_given = false;
  }
};

/// Checks a timer agent's `Blackout` object, read between the wall-clock
/// times `before` and `after`, against `m`; "" when it matches. The state
/// is a function of time: scheduled, running, done. With `final_only` only
/// the state at the end of the schedule matches; otherwise any state that
/// is plausible at that time (timers may fire a little late, `slack`).
inline std::string check_timer(const timer_model& m, const rapidjson::Value* b,
                               std::int64_t before, std::int64_t after,
                               bool final_only, std::int64_t slack = 1500) {
  if (b == nullptr || !b->IsObject())
    return "the agent has no Blackout object";
  const auto active = text(member(*b, "Active"));
  const auto start = text(member(*b, "StartTime"));
  const auto stop = text(member(*b, "StopTime"));
  const auto sched_start = text(member(*b, "ScheduledStartTime"));
  const auto sched_stop = text(member(*b, "ScheduledStopTime"));
  const std::string shown = "Blackout " + to_json(*b);
  if (!m.started)
    return active == "false" && start == "null" && sched_start == "null"
               && sched_stop == "null"
             ? ""
             : shown + ", expected none ever started";
  const auto s1 = iso_ms(m.last.start);
  const auto s2 = iso_ms(m.last.stop);
  const auto want_sched_stop = m.stop_given ? s2 : "null";
  const bool scheduled = active == "false" && sched_start == s1
                         && sched_stop == want_sched_stop;
  const bool running = active == "true" && start == s1 && stop == "null"
                       && sched_start == "null"
                       && sched_stop == want_sched_stop;
  const bool done = m.stop_given && active == "false" && start == s1
                    && stop == s2 && sched_start == "null"
                    && sched_stop == "null";
  const std::string plan = "a blackout from " + s1
                           + (m.stop_given ? " to " + s2 : " on");
  if (final_only)
    return (m.stop_given ? done : running)
             ? ""
             : shown + ", expected " + plan + " to have taken effect";
  if (scheduled && before < m.last.start + slack)
    return "";
  if (running && after >= m.last.start - slack
      && (!m.stop_given || before < m.last.stop + slack))
    return "";
  if (done && after >= m.last.stop - slack)
    return "";
  return shown + " at " + iso_ms(before) + ", expected " + plan;
}

// -- one agent, as a client thread sees it ------------------------------------

/// One agent of the workload: its script, how far the server acknowledged
/// it, and what the server told about its recordings.
struct agent_track {
  std::int64_t id = 0;
  std::string phone;
  std::vector<step> script;
  unsigned rounds = 0;
  /// Steps acknowledged (200) so far.
  std::size_t pos = 0;
  /// A request for `script[pos]` went out but got no answer (the kill).
  bool in_flight = false;
  /// A check failed; the agent takes no further part.
  bool broken = false;
  agent_model model;
  /// Slot -> RecordingIdentifier, from the responses (or, for a start in
  /// flight at the kill, from the server after the restart).
  std::map<std::int64_t, std::string> ids;
  /// RecordingIdentifier -> body as first seen completed after a restart;
  /// a completed recording must never change again.
  std::map<std::string, std::string> final_bodies;
  std::uint64_t acked_since_verify = 0;

  /// A timer agent: it only schedules blackouts (see `timer_model`); its
  /// even steps are starts, odd ones stops, both of `plan`.
  bool timer = false;
  timer_model timers;
  schedule plan;
  /// Whether `plan` was chosen for the start at `pos` (it is kept when that
  /// start has to be sent again after a kill).
  bool planned = false;

  /// A timer agent starts the next blackout only once the last one ended.
  bool ready(std::int64_t now) const {
    return !timer || pos % 2 == 1 || !timers.started
           || now > timers.last.stop + 5;
  }

  const step& next() {
    while (pos >= script.size())
      append_round(script, rounds++);
    return script[pos];
  }

  std::string where() const {
    std::string s = "agent " + std::to_string(id) + " after "
                    + std::to_string(pos) + " acknowledged steps";
    if (timer)
      s += std::string(", next a scheduled blackout ")
           + (pos % 2 == 0 ? "start" : "stop");
    else if (pos < script.size())
      s += std::string(", next ") + to_string(script[pos].what) + " of round "
           + std::to_string(script[pos].round);
    return s;
  }

  std::string profile_body(const std::string& alias) const {
    return "{\"AgentPhone\":\"" + phone + "\",\"Username\":\"crash"
           + std::to_string(id) + "\",\"DeviceAlias\":\"" + alias + "\"}";
  }
};

/// Failures shared by the threads of one run.
struct failure_log {
  std::mutex mtx;
  std::vector<std::string> messages;
  std::uint64_t count = 0;

  void add(std::string m) {
    std::lock_guard<std::mutex> guard{mtx};
    ++count;
    if (messages.size() < 100)
      messages.push_back(std::move(m));
  }

  std::uint64_t total() {
    std::lock_guard<std::mutex> guard{mtx};
    return count;
  }
};

/// Sends the request of step `s` for agent `a`.
inline http_response send_step(http_client& api, http_client& admin,
                               const agent_track& a, const step& s) {
  const std::string id = std::to_string(a.id);
  const std::string by_id = "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + id
                            + "\"";
  auto cti = [&](const char* type) {
    return api.post("/api/Cti/Events",
                    by_id + ",\"Type\":\"" + type + "\",\"CallId\":\""
                      + a.model.call_id(s.round) + "\"}");
  };
  switch (s.what) {
    case op::call_started:
      return cti("CallStarted");
    case op::call_ended:
      return cti("CallEnded");
    case op::record_start:
      return api.post("/api/Record/StartForAgent", by_id + "}");
    case op::record_update:
      // By phone, so that a second identifier kind is exercised too.
      return api.post("/api/Record/UpdateForAgent",
                      "{\"AgentIdentifier\":\"Phone\",\"Value\":\"" + a.phone
                        + "\",\"CallMetadata\":{\"user1\":\"" + s.value
                        + "\"}}");
    case op::record_stop:
      return api.post("/api/Record/StopForAgent", by_id + "}");
    case op::blackout_start:
      return api.post("/api/Blackout/StartForAgent", by_id + "}");
    case op::blackout_stop:
      return api.post("/api/Blackout/StopForAgent", by_id + "}");
    case op::duplicate_start:
      return api.post("/api/Record/StartDuplicateForAgent", by_id + "}");
    case op::duplicate_stop:
      return api.post("/api/Record/StopDuplicateForAgent", by_id + "}");
    case op::screen_start:
    case op::desktop_start:
      return api.post("/api/ScreenRecord/StartForAgent", by_id + "}");
    case op::screen_stop:
    case op::desktop_stop:
      return api.post("/api/ScreenRecord/StopForAgent", by_id + "}");
    case op::profile_put:
    case op::agent_create:
      return admin.put("/admin/agents/" + id, a.profile_body(s.value));
    case op::agent_delete:
      return admin.del("/admin/agents/" + id);
  }
  return {};
}

/// Runs the next step of timer agent `a`: a start a few hundred
/// milliseconds ahead, or its stop a little later. Same contract as
/// `run_step`.
inline bool run_timer_step(http_client& api, agent_track& a, unsigned cycle,
                           failure_log& failures, std::uint64_t& acked,
                           std::mt19937_64& rng) {
  const bool starting = a.pos % 2 == 0;
  if (starting && !a.planned) {
    a.plan.start = wall_ms() + 150 + static_cast<std::int64_t>(rng() % 250);
    a.plan.stop = a.plan.start + 50 + static_cast<std::int64_t>(rng() % 250);
    a.planned = true;
  }
  const std::string body =
    "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + std::to_string(a.id)
    + (starting ? "\",\"BlackoutStartTime\":\"" + iso_ms(a.plan.start)
                : "\",\"BlackoutStopTime\":\"" + iso_ms(a.plan.stop))
    + "\"}";
  a.in_flight = true;
  http_response r;
  try {
    r = api.post(starting ? "/api/Blackout/StartForAgent"
                          : "/api/Blackout/StopForAgent",
                 body);
  } catch (const std::exception&) {
    return false;
  }
  if (r.status == 0)
    return false;
  a.in_flight = false;
  if (r.status != 200) {
    failures.add("cycle " + std::to_string(cycle) + ", " + a.where()
                 + ": the live server refused the step: "
                 + std::to_string(r.status) + " " + clip(r.body));
    a.broken = true;
    return true;
  }
  if (starting) {
    a.timers.apply_start(a.plan);
  } else {
    a.timers.stop_given = true;
    a.planned = false;
  }
  ++a.pos;
  ++a.acked_since_verify;
  ++acked;
  return true;
}

/// Runs the next step of `a`. Returns false when the server is gone (no
/// answer: the step stays in flight); a wrong answer is a failure that
/// takes the agent out of the workload.
inline bool run_step(http_client& api, http_client& admin, agent_track& a,
                     unsigned cycle, failure_log& failures,
                     std::uint64_t& acked, std::mt19937_64& rng) {
  if (a.timer)
    return run_timer_step(api, a, cycle, failures, acked, rng);
  const step s = a.next();
  a.in_flight = true;
  http_response r;
  try {
    r = send_step(api, admin, a, s);
  } catch (const std::exception&) {
    return false;
  }
  if (r.status == 0)
    return false;
  a.in_flight = false;
  auto fail = [&](const std::string& why) {
    failures.add("cycle " + std::to_string(cycle) + ", " + a.where() + ": "
                 + why + ": " + std::to_string(r.status) + " "
                 + clip(r.body));
    a.broken = true;
    return true;
  };
  if (r.status != 200)
    return fail("the live server refused the step");
  auto created = created_slot(s);
  auto stopped = stopped_slot(s);
  if (created || stopped) {
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    if (d.HasParseError() || !d.IsObject())
      return fail("the answer is not a JSON object");
    const auto rid = text(member(d, "RecordingIdentifier"));
    if (created) {
      if (rid.size() < 8)
        return fail("the answer names no RecordingIdentifier");
      a.ids[*created] = rid;
    } else if (rid != a.ids[*stopped]) {
      return fail("the answer names another recording than "
                  + a.ids[*stopped]);
    }
  }
  a.model.apply(s);
  ++a.pos;
  ++a.acked_since_verify;
  ++acked;
  return true;
}

/// A client thread's load: random steps of its own agents until the server
/// dies or `stop` is set.
inline void load(std::vector<agent_track*> agents, http_client api,
                 http_client admin, std::uint64_t seed, unsigned cycle,
                 const std::atomic<bool>& stop, failure_log& failures,
                 std::uint64_t& acked) {
  std::mt19937_64 rng(seed);
  api.set_timeout(std::chrono::seconds(5));
  admin.set_timeout(std::chrono::seconds(5));
  agents.erase(std::remove_if(agents.begin(), agents.end(),
                              [](agent_track* a) { return a->broken; }),
               agents.end());
  while (!stop.load() && !agents.empty()) {
    const auto i = static_cast<std::size_t>(rng() % agents.size());
    if (!agents[i]->ready(wall_ms())) {
      std::this_thread::yield();
      continue;
    }
    if (!run_step(api, admin, *agents[i], cycle, failures, acked, rng))
      return;
    if (agents[i]->broken)
      agents.erase(agents.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

// -- verification -------------------------------------------------------------

/// Compares the agent object (`status` and `doc` of GET /api/Agent) with
/// `m`; "" when it matches. A listed recording whose slot has no known id
/// yet is accepted only for `adopt` (the start that was in flight), and its
/// id is returned in `adopted`.
inline std::string compare_agent(const agent_model& m, int status,
                                 const rapidjson::Document& doc,
                                 const std::map<std::int64_t, std::string>& ids,
                                 std::optional<std::int64_t> adopt,
                                 std::string& adopted) {
  adopted.clear();
  if (!m.exists)
    return status == 404 ? ""
                         : "the agent exists (" + std::to_string(status)
                             + "), expected it removed";
  if (status != 200)
    return "GET /api/Agent answered " + std::to_string(status)
           + ", expected the agent";
  std::string why;
  auto check = [&](const std::string& w) {
    if (why.empty() && !w.empty())
      why = w;
  };
  check(expect("DeviceAlias", text(member(doc, "DeviceAlias")),
               m.alias.empty() ? "null" : m.alias));
  const rapidjson::Value* b = member(doc, "Blackout");
  check(expect("Blackout.Active",
               b == nullptr ? "(absent)" : text(member(*b, "Active")),
               m.blackout ? "true" : "false"));
  const rapidjson::Value* inactive = member(doc, "InactiveCalls");
  if (inactive == nullptr || !inactive->IsArray() || !inactive->Empty())
    check("InactiveCalls is not an empty array");
  auto listed = [&](const rapidjson::Value& r, std::int64_t slot) {
    const auto rid = text(member(r, "RecordingIdentifier"));
    auto it = ids.find(slot);
    if (it != ids.end()) {
      check(expect("a listed RecordingIdentifier", rid, it->second));
    } else if (adopt && *adopt == slot && rid.size() >= 8) {
      adopted = rid;
    } else {
      check("recording " + rid + " is listed but was never acknowledged");
    }
    check(check_recording(r, m.id, m.recs.at(slot), m.blackout));
  };
  const rapidjson::Value* call = member(doc, "ActiveCall");
  if (call == nullptr) {
    check("ActiveCall is absent");
  } else if (m.call.empty()) {
    if (!call->IsNull())
      check("ActiveCall is " + text(member(*call, "CallInstance"))
            + ", expected null");
  } else if (!call->IsObject()) {
    check("ActiveCall is null, expected " + m.call);
  } else {
    check(expect("ActiveCall.CallInstance",
                 text(member(*call, "CallInstance")), m.call));
    check(expect("ActiveCall.CallState", text(member(*call, "CallState")),
                 "OnCall"));
    const rapidjson::Value* meta = member(*call, "Metadata");
    check(expect("ActiveCall.Metadata.user1",
                 meta == nullptr ? "(no Metadata)"
                                 : text(member(*meta, "user1")),
                 m.user1.empty() ? "(absent)" : m.user1));
    const rapidjson::Value* recs = member(*call, "Recordings");
    if (recs == nullptr || !recs->IsArray()) {
      check("ActiveCall.Recordings is not an array");
    } else if (recs->Size() != m.call_recs.size()) {
      check("the active call lists " + std::to_string(recs->Size())
            + " recordings, expected "
            + std::to_string(m.call_recs.size()));
    } else {
      for (rapidjson::SizeType i = 0; i < recs->Size(); ++i)
        listed((*recs)[i], m.call_recs[i]);
    }
  }
  const rapidjson::Value* desk = member(doc, "DesktopOnlySessions");
  if (desk == nullptr || !desk->IsArray()) {
    check("DesktopOnlySessions is not an array");
  } else if (desk->Size() != (m.desktop ? 1u : 0u)) {
    check("DesktopOnlySessions lists " + std::to_string(desk->Size())
          + " sessions, expected " + (m.desktop ? "1" : "0"));
  } else if (m.desktop) {
    listed((*desk)[0], *m.desktop);
  }
  return why;
}

/// Checks a timer agent after a restart: its blackout follows the
/// acknowledged schedule (or the one in flight), and that schedule still
/// reaches its end by itself, so its timers were armed again.
inline void verify_timer_agent(http_client& api, agent_track& a,
                               unsigned cycle, failure_log& failures,
                               cycle_stats& stats) {
  const std::string target = "/api/Agent?agentIdentifier=Id&value="
                             + std::to_string(a.id);
  auto fail = [&](const std::string& why) {
    failures.add("cycle " + std::to_string(cycle) + ", " + a.where() + ": "
                 + why);
    a.broken = true;
  };
  // Reads the agent; false when that failed (and is reported).
  auto read = [&](rapidjson::Document& doc, std::int64_t& before,
                  std::int64_t& after) {
    before = wall_ms();
    auto r = api.get(target);
    after = wall_ms();
    doc.Parse(r.body.c_str(), r.body.size());
    if (r.status != 200 || doc.HasParseError() || !doc.IsObject()) {
      fail("GET /api/Agent answers " + std::to_string(r.status) + " "
           + clip(r.body));
      return false;
    }
    return true;
  };
  try {
    rapidjson::Document doc;
    std::int64_t before = 0;
    std::int64_t after = 0;
    if (!read(doc, before, after))
      return;
    const rapidjson::Value* b = member(doc, "Blackout");
    timer_model advanced = a.timers;
    if (a.in_flight) {
      if (a.pos % 2 == 0)
        advanced.apply_start(a.plan);
      else
        advanced.stop_given = true;
    }
    std::string mismatch;
    if (a.in_flight
        && (mismatch = check_timer(advanced, b, before, after, false))
             .empty()) {
      a.timers = advanced;
      if (a.pos % 2 == 1)
        a.planned = false;
      ++a.pos;
      ++stats.cut_applied;
    } else if (auto why = check_timer(a.timers, b, before, after, false);
               !why.empty()) {
      return fail((a.in_flight ? "with the step in flight: " + mismatch
                                   + "; without it: "
                               : std::string{})
                  + why);
    }
    a.in_flight = false;
    // The schedule must come to its end without any further request.
    if (a.timers.started) {
      const auto end =
        a.timers.stop_given ? a.timers.last.stop : a.timers.last.start;
      const auto wait = std::max<std::int64_t>(0, end - wall_ms()) + 3000;
      std::string last;
      bool reached = poll_until(
        [&] {
          if (!read(doc, before, after))
            return true;
          last = check_timer(a.timers, member(doc, "Blackout"), before,
                             after, true);
          return last.empty();
        },
        std::chrono::milliseconds(wait));
      if (a.broken)
        return;
      if (!reached)
        return fail("the schedule did not take effect after the restart: "
                    + last);
    }
    stats.verified += a.acked_since_verify;
    a.acked_since_verify = 0;
  } catch (const std::exception& e) {
    fail(std::string("the restarted server did not answer: ") + e.what());
  }
}

/// Checks one agent after a restart and settles its position: the model
/// after the acknowledged steps, or after the step in flight too.
inline void verify_agent(http_client& api, agent_track& a, unsigned cycle,
                         failure_log& failures, cycle_stats& stats) {
  if (a.timer)
    return verify_timer_agent(api, a, cycle, failures, stats);
  const std::string id = std::to_string(a.id);
  auto fail = [&](const std::string& why) {
    failures.add("cycle " + std::to_string(cycle) + ", " + a.where() + ": "
                 + why);
    a.broken = true;
  };
  try {
    auto r = api.get("/api/Agent?agentIdentifier=Id&value=" + id);
    rapidjson::Document doc;
    if (r.status == 200) {
      doc.Parse(r.body.c_str(), r.body.size());
      if (doc.HasParseError() || !doc.IsObject())
        return fail("GET /api/Agent is not a JSON object: " + clip(r.body));
    }
    // The in-flight step first: if it took effect, the state after it is
    // the only one that can match (every step is visible in the agent).
    struct candidate {
      agent_model model;
      std::optional<std::int64_t> adopt;
      bool advanced;
    };
    std::vector<candidate> candidates;
    if (a.in_flight) {
      const step& s = a.next();
      candidate c{a.model, created_slot(s), true};
      c.model.apply(s);
      candidates.push_back(std::move(c));
    }
    candidates.push_back({a.model, std::nullopt, false});
    std::string mismatch;
    const candidate* chosen = nullptr;
    std::string adopted;
    for (auto& c : candidates) {
      auto why = compare_agent(c.model, r.status, doc, a.ids, c.adopt,
                               adopted);
      if (why.empty()) {
        chosen = &c;
        break;
      }
      mismatch += mismatch.empty() ? "" : "; ";
      if (a.in_flight)
        mismatch += c.advanced ? "with the step in flight: "
                               : "without the step in flight: ";
      mismatch += why;
    }
    if (chosen == nullptr)
      return fail(mismatch + "; the server shows " + clip(r.body, 1500));
    if (chosen->advanced) {
      a.model = chosen->model;
      if (chosen->adopt) {
        if (adopted.empty())
          return fail("the recording started by the step in flight is "
                      "not listed");
        a.ids[*chosen->adopt] = adopted;
      }
      ++a.pos;
      ++stats.cut_applied;
    }
    a.in_flight = false;

    // Every recording the agent object lists is the stored one.
    std::vector<const rapidjson::Value*> in_agent;
    if (r.status == 200) {
      const rapidjson::Value* call = member(doc, "ActiveCall");
      if (call != nullptr && call->IsObject())
        for (auto& x : (*member(*call, "Recordings")).GetArray())
          in_agent.push_back(&x);
      for (auto& x : (*member(doc, "DesktopOnlySessions")).GetArray())
        in_agent.push_back(&x);
    }
    for (auto* x : in_agent) {
      const auto rid = text(member(*x, "RecordingIdentifier"));
      auto g = api.get("/api/Recordings/" + rid);
      rapidjson::Document stored;
      stored.Parse(g.body.c_str(), g.body.size());
      if (g.status != 200 || stored.HasParseError())
        return fail("recording " + rid + " is listed in the agent but GET "
                    "/api/Recordings/" + rid + " answers "
                    + std::to_string(g.status) + " " + clip(g.body));
      if (!(*x == static_cast<const rapidjson::Value&>(stored)))
        return fail("recording " + rid + " differs between the agent ("
                    + to_json(*x) + ") and GET /api/Recordings/" + rid
                    + " (" + clip(g.body) + ")");
      ++stats.recordings_checked;
    }

    // The agent's recording index holds exactly the acknowledged ones, each
    // as the model says; completed ones never change again.
    std::map<std::string, std::int64_t> expected;
    for (auto& [slot, rid] : a.ids)
      expected[rid] = slot;
    std::set<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 10000; ++page) {
      auto l = api.get("/api/Recordings?agentId=" + id + "&limit=1000"
                       + (cursor.empty() ? "" : "&cursor=" + cursor));
      rapidjson::Document list;
      list.Parse(l.body.c_str(), l.body.size());
      const rapidjson::Value* items = l.status == 200 && !list.HasParseError()
                                        ? member(list, "Recordings")
                                        : nullptr;
      if (items == nullptr || !items->IsArray())
        return fail("GET /api/Recordings?agentId=" + id + " answers "
                    + std::to_string(l.status) + " " + clip(l.body));
      for (auto& x : items->GetArray()) {
        const auto rid = text(member(x, "RecordingIdentifier"));
        auto it = expected.find(rid);
        if (it == expected.end())
          return fail("recording " + rid + " is stored but was never "
                      "acknowledged: " + clip(to_json(x)));
        if (!seen.insert(rid).second)
          return fail("recording " + rid + " is listed twice");
        const auto& m = a.model.recs.at(it->second);
        if (auto why = check_recording(x, a.id, m, a.model.blackout);
            !why.empty())
          return fail(why + ": " + clip(to_json(x)));
        if (!m.running) {
          auto body = to_json(x);
          auto [f, fresh] = a.final_bodies.emplace(rid, body);
          if (!fresh && f->second != body)
            return fail("completed recording " + rid + " changed from "
                        + f->second + " to " + body);
        }
        ++stats.recordings_checked;
      }
      const auto next = text(member(list, "NextCursor"));
      if (next == "null" || next == "(absent)")
        break;
      cursor = next;
    }
    for (auto& [rid, slot] : expected)
      if (seen.count(rid) == 0)
        return fail("acknowledged recording " + rid + " (round "
                    + std::to_string(slot / 4) + ") is missing from GET "
                    "/api/Recordings?agentId=" + id);
    stats.verified += a.acked_since_verify;
    a.acked_since_verify = 0;
  } catch (const std::exception& e) {
    fail(std::string("the restarted server did not answer: ") + e.what());
  }
}

inline double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(
           std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace detail

// -- running it ---------------------------------------------------------------

/// One line with the numbers of a run.
inline std::string summary(const crash_result& r) {
  std::ostringstream os;
  os << r.cycles << " kill -9 cycles, " << r.agents << " agents, seed "
     << r.seed << ": " << r.acknowledged << " acknowledged, " << r.verified
     << " verified, " << r.cut << " in flight at a kill (" << r.cut_applied
     << " applied), " << r.recordings_checked << " recording checks, "
     << r.failure_count << " failures, " << r.seconds << " s";
  return os.str();
}

/// Runs the workload (see the file comment). Never throws for what the
/// server does: every problem is a failure in the result. Call it from a
/// thread that outlives the run (the server dies with its starting thread).
inline crash_result run_crash(const crash_config& cfg) {
  using namespace detail;
  using clock = std::chrono::steady_clock;
  const auto began = clock::now();
  crash_result res;
  res.seed = cfg.seed;
  failure_log failures;
  std::mt19937_64 rng(cfg.seed);
  auto say = [&](const std::string& line) {
    if (cfg.log != nullptr)
      *cfg.log << line << std::endl;
  };

  const auto dir = make_temp_dir("rapi-crash");
  server_options opts;
  opts.data_dir = dir;
  if (!cfg.agents_file.empty())
    opts.extra_args = {"--agents", cfg.agents_file};
  opts.extra_args.insert(opts.extra_args.end(), cfg.extra_args.begin(),
                         cfg.extra_args.end());
  std::unique_ptr<server_process> srv;

  auto finish = [&] {
    srv.reset();
    res.failures = failures.messages;
    res.failure_count = failures.count;
    res.seconds = ms_since(began) / 1000;
    if (res.ok())
      remove_dir(dir);
    else
      res.data_dir = dir;
    return res;
  };

  try {
    srv = std::make_unique<server_process>(opts);
  } catch (const std::exception& e) {
    failures.add(std::string("the server did not start: ") + e.what());
    return finish();
  }

  // Agents 1000, 1001, ... and the timer agents 2000, 2001, ... (one per
  // thread): provisioned in one bulk request, split among the threads.
  const unsigned n_threads = std::max(1u, cfg.threads);
  const unsigned per_thread = std::max(1u, cfg.agents_per_thread);
  std::vector<std::unique_ptr<agent_track>> agents;
  std::string bulk = "[";
  for (unsigned i = 0; i < n_threads * per_thread; ++i) {
    auto a = std::make_unique<agent_track>();
    a->id = 1000 + i;
    a->phone = "9" + std::to_string(a->id);
    a->model.id = a->id;
    bulk += (i == 0 ? "" : ",") + std::string("{\"AgentID\":")
            + std::to_string(a->id) + ","
            + a->profile_body("init").substr(1);
    a->model.alias = "init";
    agents.push_back(std::move(a));
  }
  for (unsigned t = 0; t < n_threads; ++t) {
    auto a = std::make_unique<agent_track>();
    a->id = 2000 + t;
    a->phone = "9" + std::to_string(a->id);
    a->timer = true;
    bulk += ",{\"AgentID\":" + std::to_string(a->id) + ","
            + a->profile_body("init").substr(1);
    agents.push_back(std::move(a));
  }
  bulk += "]";
  res.agents = static_cast<unsigned>(agents.size());
  try {
    auto admin = srv->admin();
    auto r = admin.put("/admin/agents", bulk);
    if (r.status != 200) {
      failures.add("provisioning the agents answered "
                   + std::to_string(r.status) + " " + clip(r.body));
      return finish();
    }
  } catch (const std::exception& e) {
    failures.add(std::string("provisioning the agents failed: ") + e.what());
    return finish();
  }
  auto share = [&](unsigned t) {
    std::vector<agent_track*> mine;
    for (unsigned i = t; i < agents.size(); i += n_threads)
      mine.push_back(agents[i].get());
    return mine;
  };

  const auto lo = cfg.min_load.count();
  const auto hi = std::max(cfg.max_load.count(), lo);
  for (unsigned cycle = 1; cycle <= cfg.cycles; ++cycle) {
    cycle_stats st;
    st.cycle = cycle;
    st.kill_after_ms = std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    const auto failed_before = failures.total();

    // Load, then the kill at a random moment (the one sleep that is the
    // point of the test), while every client is mid-request or about to be.
    std::atomic<bool> stop{false};
    std::vector<std::uint64_t> acked(n_threads, 0);
    std::vector<std::thread> threads;
    const auto load_began = clock::now();
    for (unsigned t = 0; t < n_threads; ++t)
      threads.emplace_back(load, share(t), srv->api(), srv->admin(), rng(),
                           cycle, std::cref(stop), std::ref(failures),
                           std::ref(acked[t]));
    std::this_thread::sleep_for(std::chrono::milliseconds(st.kill_after_ms));
    srv->kill9();
    res.load_seconds += ms_since(load_began) / 1000;
    stop = true;
    for (auto& t : threads)
      t.join();
    for (auto n : acked)
      st.acknowledged += n;
    for (auto& a : agents)
      st.cut += a->in_flight && !a->broken;

    // Restart on the same data folder (new ports).
    const auto restart_began = clock::now();
    try {
      srv->start();
    } catch (const std::exception& e) {
      failures.add("cycle " + std::to_string(cycle)
                   + ": the server did not restart after kill -9: "
                   + e.what());
      return finish();
    }
    st.restart_ms = ms_since(restart_began);

    // Verify every agent, the threads' agents in parallel.
    const auto verify_began = clock::now();
    std::vector<cycle_stats> part(n_threads);
    threads.clear();
    for (unsigned t = 0; t < n_threads; ++t)
      threads.emplace_back(
        [&, t](http_client api) {
          for (auto* a : share(t))
            if (!a->broken)
              verify_agent(api, *a, cycle, failures, part[t]);
        },
        srv->api());
    for (auto& t : threads)
      t.join();
    for (auto& p : part) {
      st.verified += p.verified;
      st.cut_applied += p.cut_applied;
      st.recordings_checked += p.recordings_checked;
    }
    st.verify_ms = ms_since(verify_began);
    st.failures = failures.total() - failed_before;

    res.cycles = cycle;
    res.acknowledged += st.acknowledged;
    res.verified += st.verified;
    res.cut += st.cut;
    res.cut_applied += st.cut_applied;
    res.recordings_checked += st.recordings_checked;
    res.per_cycle.push_back(st);
    std::ostringstream line;
    line << "cycle " << cycle << "/" << cfg.cycles << ": killed after "
         << st.kill_after_ms << " ms with " << st.acknowledged
         << " acknowledged, " << st.cut << " in flight (" << st.cut_applied
         << " applied); restart " << static_cast<long>(st.restart_ms)
         << " ms; " << st.verified << " verified, " << st.recordings_checked
         << " recording checks in " << static_cast<long>(st.verify_ms)
         << " ms; " << st.failures << " failures";
    say(line.str());
  }
  return finish();
}

} // namespace rapi::test::crash
