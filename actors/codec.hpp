#pragma once

/// JSON rendering of the domain model (responses and persisted values share
/// one shape) and decoding of persisted values and provisioning bodies.

#include <functional>
#include <string>
#include <string_view>

#include "actors/model.hpp"
#include "common/json_value.hpp"

namespace rapi {

// -- rendering --------------------------------------------------------------

void append_metadata(std::string& out, const metadata& m);
void append_recording(std::string& out, const recording& r);
void append_call(std::string& out, const call& c);
/// `with_history` adds the internal `History` (persisted state only).
void append_blackout(std::string& out, const blackout_state& b,
                     bool with_history = false);

/// The agent object of `GET /api/Agent`, fields in the vendor's order.
void append_agent(std::string& out, const agent_profile& p,
                  const agent_live& live);

std::string render_recording(const recording& r);
std::string render_blackout(const blackout_state& b);

// -- persisted values -------------------------------------------------------

std::string encode_profile(const agent_profile& p);

/// How `encode_live` writes the recordings of a live state.
enum class live_form {
  /// As stored (`a:` keys, layout 2): each recording by its id only; the
  /// recording itself is stored once, under its own `r:` key, which every
  /// change of it rewrites anyway. A change then writes a few hundred bytes
  /// of live state instead of every recording the agent holds.
  stored,
  /// Every recording in full (the admin view of an actor).
  full,
};

/// Stored renderings of the parts of an agent's live state that few
/// commands change: the blackout (with its history, ~40 % of the
/// encoding's work) and the recent recordings' ids (cold in the cache by
/// the agent's next command: reading them was most of the rest). An
/// agent's encodings reuse them while they are unchanged. Owned by one
/// agent's actor (not thread-safe).
struct live_render_cache {
  bool blackout_valid = false;
  blackout_state blackout;
  std::string blackout_json;
  /// The recent recordings' buffer rendered (held, so that it cannot be
  /// changed in place: `shared_vector` copies a buffer it shares, so the
  /// same buffer means the same recordings).
  bool recent_valid = false;
  std::shared_ptr<const void> recent;
  std::string recent_json;
};

/// `cache`, if given, is used and updated (stored form only); the result
/// is the same as without it.
std::string encode_live(const agent_live& live,
                        live_form form = live_form::stored,
                        live_render_cache* cache = nullptr);

/// Finds a stored recording by id for `decode_live`; false when it is
/// missing or unreadable.
using recording_lookup
  = std::function<bool(const std::string& id, recording& out)>;

/// Reads a live state as `encode_live` writes it in either form (and as
/// layout 1 stored it: recordings in full). Recordings given by id are
/// fetched through `lookup`; without one they make the value unreadable.
bool decode_live(std::string_view text, agent_live& out,
                 const recording_lookup& lookup = {});
/// Reads a blackout object as `append_blackout(..., true)` writes it.
bool decode_blackout(const json_value& v, blackout_state& out);
bool decode_recording(const json_value& v, recording& out);
bool decode_recording(std::string_view text, recording& out);

/// Reads a provisioning object (`PUT /admin/agents...`) or a stored profile.
/// Field names are case-insensitive; `AgentID`/`AgentId` is required unless
/// `id_from_path` is non-zero, and must then agree with it. Returns false
/// with a sentence naming the field at fault in `error`.
bool decode_profile(const json_value& v, agent_profile& out, std::string& error,
                    std::int64_t id_from_path = 0);

} // namespace rapi
