#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "actors/agent_state.hpp"
#include "actors/atoms.hpp"
#include "actors/codec.hpp"
#include "actors/command.hpp"
#include "actors/directory.hpp"
#include "actors/hlc.hpp"
#include "actors/replication.hpp"
#include "storage/group_committer.hpp"
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
  caf::actor_system* sys = nullptr;
  kv_store* store = nullptr;
  /// Writes go through group commit instead of each blocking the actor's
  /// thread (set by the server; null: the actor writes in place).
  group_committer* committer = nullptr;
  directory* dir = nullptr;
  /// Stamps every local blackout change (never null once running).
  hybrid_clock* hlc = nullptr;
  /// Publishes local blackout changes; null when clustering is off.
  replication* repl = nullptr;
  agent_settings settings;
  /// The injected clock: wall time in milliseconds.
  std::function<timestamp()> now;
  /// Counts actors spawned at recovery that have not yet applied what was
  /// due while the server was down; start-up waits for it to reach zero.
  std::atomic<std::int64_t>* recovering = nullptr;
};

// -- interface --------------------------------------------------------------

using agent_actor = caf::typed_actor<
  caf::reacts_to<agent_request>,
  caf::reacts_to<tick_atom, timestamp>,
  caf::reacts_to<commit_atom, std::string>>;

/// The state of one agent actor: the pure logic plus the glue that persists
/// each change before answering and arms the next blackout deadline.
///
/// A command's write is handed to the group committer (the server always
/// has one; actor tests may leave it out, and then the actor writes in
/// place). The actor keeps later commands waiting until the write is
/// confirmed, so commands still apply one at a time, in order, each on the
/// state its predecessor left; the committer answers the request itself.
struct agent_actor_state {
  static constexpr const char* name = "agent";

  void init(agent_actor::stateful_pointer<agent_actor_state> self,
            agent_entry_ptr entry, agent_live restored,
            const agent_services* svc);
  void handle(agent_request& req);
  void on_tick(timestamp due);
  void on_commit(const std::string& error);

  agent_actor::stateful_pointer<agent_actor_state> self = nullptr;
  agent_entry_ptr entry;
  const agent_services* svc = nullptr;
  std::unique_ptr<agent_state> logic;
  /// The agent's next deadline, as of its last change.
  std::optional<timestamp> armed;
  /// When the ticks sent to itself and not yet received are due. A tick is
  /// sent only for a deadline earlier than all of them, and one that finds
  /// the deadline moved sends the next: at most a tick or two per agent
  /// wait in CAF's clock, however often a blackout starts and stops (each
  /// start used to leave a tick there for the whole maxagentblackout).
  std::multiset<timestamp> ticks;

private:
  /// A change handed to the group committer and not yet confirmed.
  struct in_flight {
    outcome out;
    /// The state before the change: the published snapshot, which the
    /// actor's own state equals between changes (no copy needed to undo).
    std::shared_ptr<const agent_live> before;
    std::function<void(agent_reply)> respond; ///< empty for a timer tick
    bool removing = false;
    bool publish = false; ///< a local blackout change to send to peers
    std::string outbox_key = {}; ///< its outbox entry, when `publish`
    std::string outbox_message = {};
    /// The committer published the new state and answered the request.
    bool answered = false;
  };

  void run(agent_request& req);
  void advance();
  /// Writes `out` (or hands it to the committer); false while pending.
  void persist(outcome out, std::shared_ptr<const agent_live> before,
               std::function<void(agent_reply)> respond, bool removing,
               bool publish);
  /// Stamps the blackout when the command or tick changed it locally (as
  /// opposed to adopting a peer's state); true when it must be published.
  bool stamp(const blackout_state& before, const command* cmd);
  void complete(in_flight& f, const std::string& error);
  void drain();
  void arm();
  /// Sends itself a tick due at `due`.
  void tick_at(timestamp due);
  void publish();
  /// Puts the actor's state back to the published snapshot.
  void undo(const std::shared_ptr<const agent_live>& before);

  std::optional<in_flight> pending_;
  std::deque<agent_request> waiting_;
  /// Parts of the live state as last stored, rendered (most changes leave
  /// them as they are).
  live_render_cache rendered_;
  bool tick_deferred_ = false;
  bool initializing_ = false;
};

/// True when an agent restored to `live` has a deadline to arm, so its
/// actor must run from the start rather than on its first command.
bool needs_timer(const agent_live& live);

/// Sends `req` to the actor owning `entry`, spawning the actor first if the
/// agent has none yet (idle agents have no actor until they are used).
void send_to_agent(const agent_entry_ptr& entry, agent_request req,
                   const agent_services* svc);

/// Spawns the actor of `entry` now, from its published live state.
void ensure_agent_actor(const agent_entry_ptr& entry,
                        const agent_services* svc);

/// Asks the actor owning `entry`, if any, to quit (shutdown).
void stop_agent(const agent_entry& entry);

} // namespace rapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rapi::agent_request)
