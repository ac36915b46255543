#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "actors/agent_state.hpp"
#include "actors/atoms.hpp"
#include "actors/command.hpp"
#include "actors/directory.hpp"
#include "storage/kv_store.hpp"

namespace rapi {

/// What an agent actor answers: an error or a JSON body.
struct agent_reply {
  agent_error error;
  std::string body;
};

/// One command for an agent, with the callback that answers whoever asked
/// (the HTTP layer passes one that writes the response). The actor calls
/// `respond` exactly once, after the change is durable.
struct agent_request {
  command cmd;
  std::function<void(agent_reply)> respond;
};

/// What every agent actor shares; owned by the application.
struct agent_services {
  kv_store* store = nullptr;
  directory* dir = nullptr;
  agent_settings settings;
  /// The injected clock: wall time in milliseconds.
  std::function<timestamp()> now;
};

// -- interface --------------------------------------------------------------

using agent_actor = caf::typed_actor<
  caf::reacts_to<agent_request>,
  caf::reacts_to<tick_atom, std::uint64_t>>;

/// The state of one agent actor: the pure logic plus the glue that persists
/// each change before answering and arms the next blackout deadline.
struct agent_actor_state {
  static constexpr const char* name = "agent";

  agent_actor_state() = default;

  void init(agent_actor::stateful_pointer<agent_actor_state> self,
            agent_entry_ptr entry, agent_live restored,
            const agent_services* svc);
  void handle(agent_request& req);
  void on_tick(std::uint64_t generation);

  agent_actor::stateful_pointer<agent_actor_state> self = nullptr;
  agent_entry_ptr entry;
  const agent_services* svc = nullptr;
  std::unique_ptr<agent_state> logic;
  /// The armed deadline and its generation; stale ticks are ignored.
  std::optional<timestamp> armed;
  std::uint64_t generation = 0;

private:
  /// Persists `out` (taking `backup` back on failure) and publishes.
  agent_error commit(outcome& out, agent_live& backup, bool removing);
  void arm();
};

/// Spawns the actor owning `entry`, restored to `live`, and stores its
/// handle in the entry.
void spawn_agent(caf::actor_system& sys, const agent_entry_ptr& entry,
                 agent_live live, const agent_services* svc);

/// Sends `req` to the actor owning `entry`.
void send_to_agent(const agent_entry& entry, agent_request req);

/// Asks the actor owning `entry` to quit (shutdown).
void stop_agent(const agent_entry& entry);

} // namespace rapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rapi::agent_request)
