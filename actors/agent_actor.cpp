#include "actors/agent_actor.hpp"

#include <chrono>

#include <caf/all.hpp>

#include "actors/agent_store.hpp"

namespace rapi {

void agent_actor_state::init(
  agent_actor::stateful_pointer<agent_actor_state> s, agent_entry_ptr e,
  agent_live restored, const agent_services* services) {
  self = s;
  entry = std::move(e);
  svc = services;
  logic = std::make_unique<agent_state>(entry->id(), svc->settings);
  logic->live = std::move(restored);
  entry->set_live(std::make_shared<const agent_live>(logic->live));
  // A restored schedule whose time has passed takes effect now (with its
  // original time); later ones are armed.
  on_tick(generation);
}

agent_error agent_actor_state::commit(outcome& out, agent_live& backup,
                                      bool removing) {
  if (!out.state_changed && out.recordings.empty())
    return {};
  write_batch batch;
  add_changes(batch, entry->id(), logic->live, out);
  if (removing)
    add_removal(batch, entry->id());
  auto st = svc->store->write(batch);
  if (!st.ok()) {
    logic->live = std::move(backup);
    return {agent_errc::storage_failure,
            "the change could not be stored: " + st.message};
  }
  entry->set_live(std::make_shared<const agent_live>(logic->live));
  return {};
}

void agent_actor_state::handle(agent_request& req) {
  if (entry->removed.load()) {
    req.respond({{agent_errc::agent_not_found,
                  "Agent " + std::to_string(entry->id()) + " was removed"},
                 {}});
    return;
  }
  const bool removing = req.cmd.kind == command_kind::remove;
  auto backup = logic->live;
  auto out = logic->apply(req.cmd, svc->now());
  if (out.error) {
    logic->live = std::move(backup);
    req.respond({std::move(out.error), {}});
    return;
  }
  if (auto err = commit(out, backup, removing)) {
    req.respond({std::move(err), {}});
    return;
  }
  if (removing) {
    entry->removed = true;
    req.respond({{}, std::move(out.body)});
    self->quit();
    return;
  }
  arm();
  req.respond({{}, std::move(out.body)});
}

void agent_actor_state::on_tick(std::uint64_t gen) {
  if (gen != generation || entry->removed.load())
    return;
  armed.reset();
  auto backup = logic->live;
  auto out = logic->advance(svc->now());
  if (auto err = commit(out, backup, false)) {
    // Storage refused: try again shortly rather than lose the deadline.
    ++generation;
    self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value,
                       generation);
    return;
  }
  arm();
}

void agent_actor_state::arm() {
  auto next = logic->next_deadline();
  if (next == armed)
    return;
  ++generation;
  armed = next;
  if (!next)
    return;
  auto delay = std::max<timestamp>(0, *next - svc->now());
  self->delayed_send(self, std::chrono::milliseconds(delay), tick_atom::value,
                     generation);
}

namespace {

agent_actor::behavior_type
agent_actor_impl(agent_actor::stateful_pointer<agent_actor_state> self,
                 agent_entry_ptr entry, agent_live live,
                 const agent_services* svc) {
  self->state.init(self, std::move(entry), std::move(live), svc);
  return {
    [self](agent_request& req) { self->state.handle(req); },
    [self](tick_atom, std::uint64_t gen) { self->state.on_tick(gen); },
  };
}

} // namespace

void spawn_agent(caf::actor_system& sys, const agent_entry_ptr& entry,
                 agent_live live, const agent_services* svc) {
  auto handle = sys.spawn(agent_actor_impl, entry, std::move(live), svc);
  entry->actor = std::make_shared<agent_actor>(std::move(handle));
}

void send_to_agent(const agent_entry& entry, agent_request req) {
  auto handle = std::static_pointer_cast<agent_actor>(entry.actor);
  caf::anon_send(*handle, std::move(req));
}

void stop_agent(const agent_entry& entry) {
  if (auto handle = std::static_pointer_cast<agent_actor>(entry.actor))
    caf::anon_send_exit(*handle, caf::exit_reason::user_shutdown);
}

} // namespace rapi
