#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "actors/command.hpp"
#include "actors/model.hpp"

namespace rapi {

/// Settings of the agent logic that come from configuration.
struct agent_settings {
  std::string server_id = "recording-api";
  /// `maxagentblackout` in milliseconds; 0 means no limit.
  std::int64_t max_blackout_ms = 600'000;
  /// At most this many metadata keys on one call or session.
  std::size_t max_metadata_keys = 64;
  /// How long completed recordings stay in memory so that a retroactive
  /// blackout can still mark them, and how many at most. Every write of the
  /// agent's state carries them, so the bound is kept small: a CRM's
  /// retroactive start is seconds to minutes in the past.
  std::int64_t recent_window_ms = 172'800'000;
  std::size_t recent_max = 8;
  /// Hands out increasing recording sequence numbers; the default is a
  /// process-wide counter seeded from the wall clock at start.
  std::function<std::uint64_t()> next_seq;
};

/// The pure state logic of one agent: calls, recordings and blackout.
///
/// No actor system, no clock, no storage: every method takes `now`, so unit
/// tests drive it with a fake clock. The actor applies each command to a copy
/// of the live state and keeps the copy only once storage has accepted it.
class agent_state {
public:
  agent_state(std::int64_t agent_id, const agent_settings& settings);

  agent_live live;

  /// Applies `cmd` received at `now`. Due blackout events (schedules and
  /// the limit) are applied first, so the command sees the state as of now.
  outcome apply(const command& cmd, timestamp now);

  /// Applies blackout events that are due at `now` (timer ticks).
  outcome advance(timestamp now);

  /// The next time at which `advance` has something to do, if any.
  std::optional<timestamp> next_deadline() const;

  /// False when the last `apply` or `advance` cannot have changed the
  /// blackout (nothing that changes it ran), so that the caller need not
  /// compare it with the state before (cold in the cache by then).
  bool blackout_touched() const { return blackout_touched_; }

  std::int64_t agent_id() const { return agent_id_; }

private:
  // -- helpers, each recording what it touched in `out_` --------------------
  call* find_call(std::string_view key);
  agent_error target_call(const command& cmd, bool may_label, call*& out);
  recording* running(call& c, recording_kind k);
  recording* running_screen(call** owner);
  recording& start_recording(call* c, recording_kind k, timestamp now);
  void stop_recording(recording& r, timestamp at, stop_reason why);
  agent_error merge_into(metadata& target, const metadata& extra);
  void sync_call_metadata(call& c);
  void label_call(call& c, const std::string& cid);
  void remove_call(const std::string& call_id, timestamp now);
  void retire(recording r, timestamp now);
  void prune_recent(timestamp now);
  void touch(const recording& r);
  void finish(outcome& out);

  outcome on_record(const command& cmd, timestamp now);
  outcome on_screen(const command& cmd, timestamp now);
  outcome on_cti(const command& cmd, timestamp now);
  outcome on_blackout(const command& cmd, timestamp now);
  outcome on_remove(timestamp now);
  outcome on_replicate(const command& cmd, timestamp now);

  void advance_blackout(timestamp now);
  void begin_blackout(timestamp at);
  void end_blackout(timestamp at);
  /// Recomputes `r.blackouts` from the blackout history and the running
  /// blackout (clipped to the recording, overlaps merged).
  void derive_blackouts(recording& r);
  /// What `r.blackouts` should be, into `out` (emptied first; reused so
  /// that the many recordings a blackout change visits allocate nothing).
  void derive_blackouts_into(const recording& r,
                             std::vector<interval>& out) const;
  /// derive_blackouts for every recording the agent holds; recent ones
  /// are unshared only when they change. `changed_from`: the periods
  /// changed from then on only, so recent recordings that stopped by then
  /// are left as they are (the default: every one is derived).
  void derive_all_blackouts(
    timestamp changed_from = std::numeric_limits<timestamp>::min());
  /// Visits every recording the agent holds, read-only.
  template <class F>
  void for_each_recording(F&& f) const;

  std::int64_t agent_id_;
  const agent_settings* settings_;
  /// Ids touched by the command in progress, and which of them are new.
  std::vector<std::string> touched_;
  std::vector<std::string> created_;
  /// Recordings that left the live state during the command in progress.
  std::vector<recording> retired_;
  /// The recording the command in progress answers with, rendered by
  /// `finish` (once, when it is also stored).
  const recording* answer_with_ = nullptr;
  /// derive_blackouts' scratch space.
  std::vector<interval> derived_;
  bool changed_ = false;
  bool blackout_touched_ = false;
  /// The time of the command or tick in progress.
  timestamp now_ = 0;
};

} // namespace rapi
