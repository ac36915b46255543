#include "actors/agent_actor.hpp"

#include <chrono>

#include <caf/all.hpp>

#include "actors/agent_store.hpp"

namespace rapi {

bool needs_timer(const agent_live& live) {
  return live.blackout.active || live.blackout.scheduled_start.has_value()
         || live.blackout.scheduled_stop.has_value();
}

void agent_actor_state::init(
  agent_actor::stateful_pointer<agent_actor_state> s, agent_entry_ptr e,
  agent_live restored, const agent_services* services) {
  self = s;
  entry = std::move(e);
  svc = services;
  logic = std::make_unique<agent_state>(entry->id(), svc->settings);
  logic->live = std::move(restored);
  // A restored schedule whose time has passed takes effect now (with its
  // original time); later ones are armed.
  initializing_ = true;
  advance();
}

void agent_actor_state::publish() {
  entry->set_live(std::make_shared<const agent_live>(logic->live));
}

bool agent_actor_state::stamp(const blackout_state& before,
                              const command* cmd) {
  auto& after = logic->live.blackout;
  if (!logic->blackout_touched() || after.same_state(before))
    return false;
  // Adopting a peer's newer state as it is: keep its stamp, publish nothing.
  if (cmd != nullptr && cmd->kind == command_kind::blackout_replicate
      && cmd->remote_blackout && after.same_state(*cmd->remote_blackout))
    return false;
  if (svc->hlc != nullptr)
    after.version = svc->hlc->tick(svc->now());
  after.origin = svc->settings.server_id;
  return svc->repl != nullptr;
}

void agent_actor_state::undo(const std::shared_ptr<const agent_live>& before) {
  logic->live = *before;
}

void agent_actor_state::persist(outcome out,
                                std::shared_ptr<const agent_live> before,
                                std::function<void(agent_reply)> respond,
                                bool removing, bool publish) {
  in_flight f{std::move(out), std::move(before), std::move(respond), removing,
              publish};
  if (!f.out.state_changed && f.out.recordings.empty() && !removing) {
    complete(f, {});
    return;
  }
  write_batch batch;
  add_changes(batch, entry->id(), logic->live, f.out, &rendered_);
  if (removing)
    add_removal(batch, entry->id());
  if (publish) {
    f.outbox_key = svc->repl->next_outbox_key();
    f.outbox_message
      = svc->repl->encode_change(entry->id(), logic->live.blackout);
    batch.put(f.outbox_key, f.outbox_message);
  }
  if (svc->committer == nullptr) {
    complete(f, svc->store->write(batch).message);
    return;
  }
  // Nothing else being written: the actor writes the batch itself, sparing
  // two thread hand-offs, and finishes the command at once.
  if (svc->committer->try_write_now(batch, [&](const storage_status& st) {
        complete(f, st.message);
      }))
    return;
  // A command's answer leaves from the committer's thread as soon as the
  // write is done: on success the snapshot readers see is published there
  // first (so a client that has its 200 reads its change). The actor learns
  // of the commit after that and only then takes its next command (later
  // ones wait in `waiting_`), undoing the change if the write failed. A
  // removal and a timer's change are finished by the actor alone.
  std::function<void(const storage_status&)> answer;
  if (f.respond && !removing) {
    auto snapshot = std::make_shared<const agent_live>(logic->live);
    answer = [e = entry, snapshot = std::move(snapshot),
              respond = std::move(f.respond),
              body = std::move(f.out.body)](const storage_status& st) mutable {
      if (!st.ok()) {
        respond({{agent_errc::storage_failure,
                  "the change could not be stored: " + st.message},
                 {}});
        return;
      }
      e->set_live(std::move(snapshot));
      respond({{}, std::move(body)});
    };
    f.answered = true;
  }
  pending_ = std::move(f);
  auto me = caf::actor_cast<agent_actor>(self);
  svc->committer->submit(std::move(batch),
                         [me, answer = std::move(answer)](
                           const storage_status& st) mutable {
                           if (answer)
                             answer(st);
                           caf::anon_send(me, commit_atom::value, st.message);
                         });
}

void agent_actor_state::complete(in_flight& f, const std::string& error) {
  if (initializing_) {
    initializing_ = false;
    if (svc->recovering != nullptr)
      --*svc->recovering;
  }
  if (!error.empty()) {
    undo(f.before);
    if (f.answered) // by the committer
      return;
    if (f.respond)
      f.respond({{agent_errc::storage_failure,
                  "the change could not be stored: " + error},
                 {}});
    else // a timer's change: try again shortly rather than lose it
      tick_at(svc->now() + 100);
    return;
  }
  if (!f.answered && (f.out.state_changed || !f.out.recordings.empty()))
    publish();
  if (f.publish)
    svc->repl->outbox_committed(f.outbox_key, std::move(f.outbox_message));
  if (f.removing) {
    entry->removed = true;
    f.respond({{}, std::move(f.out.body)});
    self->quit();
    return;
  }
  arm();
  if (f.respond && !f.answered)
    f.respond({{}, std::move(f.out.body)});
}

void agent_actor_state::on_commit(const std::string& error) {
  if (!pending_)
    return;
  auto f = std::move(*pending_);
  pending_.reset();
  complete(f, error);
  drain();
}

void agent_actor_state::drain() {
  while (!pending_ && !waiting_.empty()) {
    auto req = std::move(waiting_.front());
    waiting_.pop_front();
    run(req);
  }
  if (!pending_ && tick_deferred_) {
    tick_deferred_ = false;
    advance();
  }
}

void agent_actor_state::handle(agent_request& req) {
  if (pending_) {
    waiting_.push_back(std::move(req));
    return;
  }
  run(req);
}

void agent_actor_state::run(agent_request& req) {
  --entry->queued;
  if (entry->removed.load()) {
    req.respond({{agent_errc::agent_not_found,
                  "Agent " + std::to_string(entry->id()) + " was removed"},
                 {}});
    return;
  }
  const bool removing = req.cmd.kind == command_kind::remove;
  // The actor's state equals the published snapshot between changes, so
  // undoing a refused change copies from it instead of copying every
  // state before every change.
  auto before = entry->live();
  auto out = logic->apply(req.cmd, svc->now());
  if (out.error) {
    undo(before); // a refused command may have changed things on its way
    req.respond({std::move(out.error), {}});
    return;
  }
  bool publish = !removing && stamp(before->blackout, &req.cmd);
  persist(std::move(out), std::move(before), std::move(req.respond), removing,
          publish);
}

void agent_actor_state::advance() {
  if (entry->removed.load())
    return;
  if (pending_) {
    tick_deferred_ = true;
    return;
  }
  auto before = entry->live();
  auto out = logic->advance(svc->now());
  bool publish = stamp(before->blackout, nullptr);
  persist(std::move(out), std::move(before), {}, false, publish);
}

void agent_actor_state::on_tick(timestamp due) {
  if (auto i = ticks.find(due); i != ticks.end())
    ticks.erase(i);
  if (armed && *armed <= svc->now())
    advance();
  else
    arm(); // the deadline moved (or went): a tick for it, if none is due first
}

void agent_actor_state::arm() {
  armed = logic->next_deadline();
  if (!armed || (!ticks.empty() && *ticks.begin() <= *armed))
    return;
  tick_at(*armed);
}

void agent_actor_state::tick_at(timestamp due) {
  ticks.insert(due);
  auto delay = std::max<timestamp>(0, due - svc->now());
  self->delayed_send(self, std::chrono::milliseconds(delay), tick_atom::value,
                     due);
}

namespace {

agent_actor::behavior_type
agent_actor_impl(agent_actor::stateful_pointer<agent_actor_state> self,
                 agent_entry_ptr entry, agent_live live,
                 const agent_services* svc) {
  self->state.init(self, std::move(entry), std::move(live), svc);
  return {
    [self](agent_request& req) { self->state.handle(req); },
    [self](tick_atom, timestamp due) { self->state.on_tick(due); },
    [self](commit_atom, const std::string& error) {
      self->state.on_commit(error);
    },
  };
}

/// The actor of `entry`, spawned on first use.
std::shared_ptr<agent_actor> actor_of(const agent_entry_ptr& entry,
                                      const agent_services* svc) {
  std::lock_guard<std::mutex> guard{entry->spawn_mtx()};
  if (!entry->actor) {
    auto live = entry->live();
    auto handle = svc->sys->spawn(agent_actor_impl, entry,
                                  live ? *live : agent_live{}, svc);
    entry->actor = std::make_shared<agent_actor>(std::move(handle));
  }
  return std::static_pointer_cast<agent_actor>(entry->actor);
}

} // namespace

void ensure_agent_actor(const agent_entry_ptr& entry,
                        const agent_services* svc) {
  actor_of(entry, svc);
}

void send_to_agent(const agent_entry_ptr& entry, agent_request req,
                   const agent_services* svc) {
  ++entry->queued;
  caf::anon_send(*actor_of(entry, svc), std::move(req));
}

void stop_agent(const agent_entry& entry) {
  auto& e = const_cast<agent_entry&>(entry);
  std::lock_guard<std::mutex> guard{e.spawn_mtx()};
  if (auto handle = std::static_pointer_cast<agent_actor>(e.actor))
    caf::anon_send_exit(*handle, caf::exit_reason::user_shutdown);
}

} // namespace rapi
