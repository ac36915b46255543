#pragma once

/// The messages an agent actor executes. Each is a complete, serialisable
/// description of one state change, so it can be persisted, replayed and
/// (for blackouts) published.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/errc.hpp"
#include "actors/model.hpp"

namespace rapi {

enum class command_kind : std::uint8_t {
  record_start,
  record_stop,
  record_update,
  duplicate_start,
  duplicate_stop,
  screen_start,
  screen_update,
  screen_stop,
  blackout_start,
  blackout_stop,
  cti_event,
  remove,
  /// A peer's blackout state, applied if it is newer (last writer wins).
  blackout_replicate,
};

enum class cti_type : std::uint8_t {
  call_started,
  call_held,
  call_parked,
  call_retrieved,
  call_ended,
};

const char* to_string(cti_type t);

struct cti_event {
  cti_type type = cti_type::call_started;
  std::string call_id;
  std::string call_identifier;
  std::string direction;
  std::string ani;
  std::string dnis;
  std::optional<timestamp> time;
};

struct command {
  command_kind kind = command_kind::record_start;
  /// The request's CallIdentifier, when it named one.
  std::optional<std::string> call_identifier;
  /// Validated CallMetadata to merge.
  metadata call_metadata;
  /// Blackout commands: the resolved start/stop time (explicit time, or
  /// receipt time plus TimeOffset); empty means receipt time.
  std::optional<timestamp> time;
  /// True when the client gave the time (explicitly or as TimeOffset);
  /// false when `time` is just the receipt time.
  bool time_given = false;
  cti_event event;
  /// For blackout_replicate: the peer's resulting state.
  std::optional<blackout_state> remote_blackout;
};

/// A recording whose stored copy must be (re)written.
struct changed_recording {
  recording rec;
  bool created = false;
  /// Its stored form, when already rendered (as the command's answer is
  /// the same JSON); empty otherwise.
  std::string json;
};

/// What a command did: an error, or the response body and what to persist.
struct outcome {
  agent_error error;
  /// JSON response body on success.
  std::string body;
  /// True when the agent's own state changed and must be persisted.
  bool state_changed = false;
  std::vector<changed_recording> recordings;
};

} // namespace rapi
