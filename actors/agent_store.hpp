#pragma once

/// How an agent's state maps onto the key-value store (layout in
/// storage/keys.hpp). Both the agent actor and start-up recovery use it.

#include <functional>
#include <string>
#include <vector>

#include "actors/codec.hpp"
#include "actors/command.hpp"
#include "actors/model.hpp"
#include "storage/kv_store.hpp"

namespace rapi {

/// Adds the effects of one command to `batch`: the agent's live state and
/// every recording it touched (with its index keys when new).
/// `cache`: see `encode_live`.
void add_changes(write_batch& batch, std::int64_t agent_id,
                 const agent_live& live, const outcome& out,
                 live_render_cache* cache = nullptr);

/// Adds the deletion of an agent (profile and live state) to `batch`.
void add_removal(write_batch& batch, std::int64_t agent_id);

/// Adds stored profiles to `batch`.
void add_profiles(write_batch& batch, const std::vector<agent_profile>& ps);

/// Checks the layout version of `store` (writing it into an empty store
/// when `may_write`). Returns an error sentence, or "" when the store can
/// be used.
std::string check_layout(kv_store& store, bool may_write = true);

/// Decodes a stored live state (`a:` value), fetching the recordings it
/// names from `store`. False when unreadable, with the reason in `error`
/// when a recording is missing or unreadable.
bool read_stored_live(kv_store& store, std::string_view text, agent_live& out,
                      std::string& error);

/// One stored agent, as recovery hands it over.
struct stored_agent {
  agent_profile profile;
  agent_live live;
  /// False for an agent that never had a live state stored (idle).
  bool has_live = false;
};

/// Reads every stored agent, in AgentID order. Returns an error sentence
/// or "".
std::string load_agents(kv_store& store,
                        const std::function<void(stored_agent&&)>& fn);

} // namespace rapi
