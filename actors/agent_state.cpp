#include "actors/agent_state.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "actors/codec.hpp"
#include "common/uuid.hpp"

namespace rapi {

namespace {

/// Microseconds since the epoch at first use, then +1 per call: increasing
/// within a run and, with a sane clock, across restarts.
std::uint64_t default_seq() {
  static std::atomic<std::uint64_t> next{static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count())};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::string call_label(const call& c) {
  return c.call_identifier.empty() ? c.call_id : c.call_identifier;
}

} // namespace

const char* to_string(cti_type t) {
  switch (t) {
    case cti_type::call_started:
      return "CallStarted";
    case cti_type::call_held:
      return "CallHeld";
    case cti_type::call_parked:
      return "CallParked";
    case cti_type::call_retrieved:
      return "CallRetrieved";
    case cti_type::call_ended:
      return "CallEnded";
  }
  return "";
}

agent_state::agent_state(std::int64_t agent_id, const agent_settings& settings)
  : agent_id_(agent_id), settings_(&settings) {
}

// -- bookkeeping ------------------------------------------------------------

void agent_state::touch(const recording& r) {
  changed_ = true;
  if (std::find(touched_.begin(), touched_.end(), r.id) == touched_.end())
    touched_.push_back(r.id);
}

template <class F>
void agent_state::for_each_recording(F&& f) const {
  auto each_call = [&](const call& c) {
    for (auto& r : c.recordings)
      f(r);
  };
  if (live.active_call)
    each_call(*live.active_call);
  for (auto& c : live.inactive_calls)
    each_call(c);
  if (live.desktop_session)
    f(*live.desktop_session);
  for (auto& r : live.recent)
    f(r);
}

void agent_state::finish(outcome& out) {
  out.state_changed = changed_;
  // The answer is the recording as stored: rendered once, for both.
  const recording* answer = answer_with_;
  answer_with_ = nullptr;
  if (!out.error) {
    // Touched ids are distinct and each names one recording: once all are
    // found, the rest (the recent ones, mostly) need no comparing.
    std::size_t found = 0;
    for_each_recording([&](const recording& r) {
      if (found == touched_.size())
        return;
      if (std::find(touched_.begin(), touched_.end(), r.id) != touched_.end()) {
        ++found;
        bool created = std::find(created_.begin(), created_.end(), r.id)
                       != created_.end();
        out.recordings.push_back({r, created, {}});
        if (&r == answer) {
          out.body = render_recording(r);
          out.recordings.back().json = out.body;
          answer = nullptr;
        }
      }
    });
    if (answer != nullptr)
      out.body = render_recording(*answer);
    for (auto& r : retired_) {
      bool created = std::find(created_.begin(), created_.end(), r.id)
                     != created_.end();
      out.recordings.push_back({std::move(r), created, {}});
    }
  }
  touched_.clear();
  created_.clear();
  retired_.clear();
  changed_ = false;
}

// -- finding things ---------------------------------------------------------

call* agent_state::find_call(std::string_view key) {
  if (live.active_call && live.active_call->named(key))
    return &*live.active_call;
  for (auto& c : live.inactive_calls)
    if (c.named(key))
      return &c;
  return nullptr;
}

agent_error agent_state::target_call(const command& cmd, bool may_label,
                                     call*& out) {
  out = nullptr;
  if (!live.active_call && live.inactive_calls.empty())
    return {agent_errc::not_in_call,
            "Agent " + std::to_string(agent_id_) + " is not on a call"};
  if (cmd.call_identifier) {
    const auto& cid = *cmd.call_identifier;
    if ((out = find_call(cid)) != nullptr)
      return {};
    // Start commands may give the active call its first label.
    if (may_label && live.active_call
        && live.active_call->call_identifier.empty()) {
      out = &*live.active_call;
      label_call(*out, cid);
      return {};
    }
    return {agent_errc::call_not_found, "CallIdentifier '" + cid
                                          + "' matched no call of agent "
                                          + std::to_string(agent_id_)};
  }
  if (!live.active_call)
    return {agent_errc::not_in_call, "Agent " + std::to_string(agent_id_)
                                       + " has no active call (only held or "
                                         "parked ones)"};
  out = &*live.active_call;
  return {};
}

recording* agent_state::running(call& c, recording_kind k) {
  for (auto& r : c.recordings)
    if (r.kind == k && r.running())
      return &r;
  return nullptr;
}

recording* agent_state::running_screen(call** owner) {
  *owner = nullptr;
  auto in_call = [&](call& c) -> recording* {
    if (auto* r = running(c, recording_kind::screen)) {
      *owner = &c;
      return r;
    }
    return nullptr;
  };
  if (live.active_call)
    if (auto* r = in_call(*live.active_call))
      return r;
  for (auto& c : live.inactive_calls)
    if (auto* r = in_call(c))
      return r;
  if (live.desktop_session && live.desktop_session->running())
    return &*live.desktop_session;
  return nullptr;
}

// -- changing things --------------------------------------------------------

agent_error agent_state::merge_into(metadata& target, const metadata& extra) {
  if (extra.empty())
    return {};
  auto merged = target;
  merge_metadata(merged, extra);
  if (merged.size() > settings_->max_metadata_keys)
    return {agent_errc::invalid_metadata,
            "CallMetadata would give the call "
              + std::to_string(merged.size()) + " keys; at most "
              + std::to_string(settings_->max_metadata_keys) + " are allowed"};
  target = std::move(merged);
  changed_ = true;
  return {};
}

void agent_state::sync_call_metadata(call& c) {
  for (auto& r : c.recordings) {
    if (r.running() && r.meta != c.meta) {
      r.meta = c.meta;
      touch(r);
    }
  }
}

void agent_state::label_call(call& c, const std::string& cid) {
  if (c.call_identifier == cid)
    return;
  c.call_identifier = cid;
  changed_ = true;
  for (auto& r : c.recordings) {
    if (r.running()) {
      r.call_identifier = cid;
      touch(r);
    }
  }
}

recording& agent_state::start_recording(call* c, recording_kind k,
                                        timestamp now) {
  recording r;
  r.id = make_time_ordered_uuid(now);
  r.kind = k;
  r.state = recording_state::recording;
  r.agent_id = agent_id_;
  r.start = now;
  r.server_id = settings_->server_id;
  r.seq = settings_->next_seq ? settings_->next_seq() : default_seq();
  if (live.blackout.active)
    r.blackouts.push_back({now, std::nullopt});
  created_.push_back(r.id);
  recording* slot;
  if (c != nullptr) {
    r.call_instance = c->call_id;
    r.call_identifier = c->call_identifier;
    r.meta = c->meta;
    c->recordings.push_back(std::move(r));
    slot = &c->recordings.back();
  } else {
    live.desktop_session = std::move(r);
    slot = &*live.desktop_session;
  }
  touch(*slot);
  return *slot;
}

void agent_state::stop_recording(recording& r, timestamp at, stop_reason why) {
  at = std::max(at, r.start);
  r.state = recording_state::completed;
  r.stop = at;
  r.reason = why;
  for (auto& i : r.blackouts)
    if (!i.stop)
      i.stop = std::max(at, i.start);
  touch(r);
}

void agent_state::retire(recording r, timestamp now) {
  changed_ = true;
  retired_.push_back(r);
  if (r.stop && *r.stop + settings_->recent_window_ms >= now)
    live.recent.push_back(std::move(r));
  prune_recent(now);
}

void agent_state::prune_recent(timestamp now) {
  auto too_old = [&](const recording& x) {
    return x.stop.value_or(now) + settings_->recent_window_ms < now;
  };
  if (std::none_of(live.recent.begin(), live.recent.end(), too_old)
      && live.recent.size() <= settings_->recent_max)
    return; // nothing to drop: leave the shared buffer alone
  auto& recent = live.recent.edit();
  recent.erase(std::remove_if(recent.begin(), recent.end(), too_old),
               recent.end());
  if (recent.size() > settings_->recent_max)
    recent.erase(recent.begin(), recent.end() - settings_->recent_max);
}

void agent_state::remove_call(const std::string& call_id, timestamp now) {
  auto take = [&](call& c) {
    for (auto& r : c.recordings) {
      if (r.running())
        stop_recording(r, now, stop_reason::call_ended);
      // Completed recordings leave the live state; the stored copy stays.
      bool was_touched = std::find(touched_.begin(), touched_.end(), r.id)
                         != touched_.end();
      if (was_touched) {
        touched_.erase(std::find(touched_.begin(), touched_.end(), r.id));
        retire(std::move(r), now);
      } else if (r.stop && *r.stop + settings_->recent_window_ms >= now) {
        live.recent.push_back(std::move(r));
      }
    }
    prune_recent(now);
  };
  changed_ = true;
  if (live.active_call && live.active_call->call_id == call_id) {
    take(*live.active_call);
    live.active_call.reset();
    return;
  }
  for (auto it = live.inactive_calls.begin(); it != live.inactive_calls.end();
       ++it) {
    if (it->call_id == call_id) {
      take(*it);
      live.inactive_calls.erase(it);
      return;
    }
  }
}

// -- commands ---------------------------------------------------------------

outcome agent_state::apply(const command& cmd, timestamp now) {
  now_ = now;
  blackout_touched_ = false;
  advance_blackout(now);
  outcome out;
  switch (cmd.kind) {
    case command_kind::record_start:
    case command_kind::record_stop:
    case command_kind::record_update:
    case command_kind::duplicate_start:
    case command_kind::duplicate_stop:
      out = on_record(cmd, now);
      break;
    case command_kind::screen_start:
    case command_kind::screen_update:
    case command_kind::screen_stop:
      out = on_screen(cmd, now);
      break;
    case command_kind::cti_event:
      out = on_cti(cmd, now);
      break;
    case command_kind::blackout_start:
    case command_kind::blackout_stop:
      out = on_blackout(cmd, now);
      break;
    case command_kind::remove:
      out = on_remove(now);
      break;
    case command_kind::blackout_replicate:
      out = on_replicate(cmd, now);
      break;
  }
  finish(out);
  return out;
}

outcome agent_state::advance(timestamp now) {
  now_ = now;
  blackout_touched_ = false;
  advance_blackout(now);
  outcome out;
  out.body = render_blackout(live.blackout);
  finish(out);
  return out;
}

outcome agent_state::on_record(const command& cmd, timestamp now) {
  outcome out;
  const bool starting = cmd.kind == command_kind::record_start
                        || cmd.kind == command_kind::duplicate_start;
  const auto kind = (cmd.kind == command_kind::duplicate_start
                     || cmd.kind == command_kind::duplicate_stop)
                      ? recording_kind::duplicate
                      : recording_kind::audio;
  call* c = nullptr;
  if ((out.error = target_call(cmd, starting, c)))
    return out;
  if ((out.error = merge_into(c->meta, cmd.call_metadata)))
    return out;
  sync_call_metadata(*c);
  recording* r = nullptr;
  switch (cmd.kind) {
    case command_kind::record_start:
    case command_kind::duplicate_start:
      r = running(*c, kind);
      if (r == nullptr)
        r = &start_recording(c, kind, now);
      break;
    case command_kind::record_stop:
    case command_kind::duplicate_stop:
      r = running(*c, kind);
      if (r == nullptr) {
        out.error = {agent_errc::not_recording,
                     std::string("Agent ") + std::to_string(agent_id_)
                       + " has no running "
                       + (kind == recording_kind::audio ? "audio" : "duplicate")
                       + " recording on call '" + call_label(*c) + "'"};
        return out;
      }
      stop_recording(*r, now, stop_reason::api);
      break;
    default: // update
      r = running(*c, recording_kind::audio);
      if (r == nullptr)
        for (auto& x : c->recordings)
          if (x.running()) {
            r = &x;
            break;
          }
      if (r == nullptr) {
        out.error = {agent_errc::not_recording,
                     "Agent " + std::to_string(agent_id_)
                       + " has no running recording on call '" + call_label(*c)
                       + "'"};
        return out;
      }
      break;
  }
  answer_with_ = r;
  return out;
}

outcome agent_state::on_screen(const command& cmd, timestamp now) {
  outcome out;
  call* owner = nullptr;
  recording* r = running_screen(&owner);
  if (r == nullptr && cmd.kind != command_kind::screen_start) {
    out.error = {agent_errc::not_recording,
                 "Agent " + std::to_string(agent_id_)
                   + " has no running screen recording"};
    return out;
  }
  if (r == nullptr) {
    owner = live.active_call ? &*live.active_call : nullptr;
    r = &start_recording(owner, recording_kind::screen, now);
  }
  if (owner != nullptr) {
    if ((out.error = merge_into(owner->meta, cmd.call_metadata)))
      return out;
    sync_call_metadata(*owner);
  } else {
    if ((out.error = merge_into(r->meta, cmd.call_metadata)))
      return out;
    touch(*r);
  }
  if (cmd.kind == command_kind::screen_stop) {
    stop_recording(*r, now, stop_reason::api);
    if (owner == nullptr) {
      auto done = std::move(*live.desktop_session);
      live.desktop_session.reset();
      touched_.erase(std::find(touched_.begin(), touched_.end(), done.id));
      out.body = render_recording(done);
      retire(std::move(done), now);
      return out;
    }
  }
  answer_with_ = r;
  return out;
}

outcome agent_state::on_cti(const command& cmd, timestamp now) {
  outcome out;
  const auto& ev = cmd.event;
  const timestamp at = ev.time.value_or(now);
  // The feed names calls by the telephony id only, never by a label.
  call* c = nullptr;
  if (live.active_call && live.active_call->call_id == ev.call_id)
    c = &*live.active_call;
  for (auto& x : live.inactive_calls)
    if (x.call_id == ev.call_id)
      c = &x;
  auto not_found = [&] {
    out.error = {agent_errc::call_not_found,
                 "CallId '" + ev.call_id + "' matched no call of agent "
                   + std::to_string(agent_id_)};
  };
  auto hold_active = [&] {
    if (live.active_call) {
      live.active_call->state = call_state::on_hold;
      live.inactive_calls.push_back(std::move(*live.active_call));
      live.active_call.reset();
    }
  };
  auto make_active = [&](const std::string& call_id) {
    if (live.active_call && live.active_call->call_id == call_id) {
      live.active_call->state = call_state::on_call;
      return;
    }
    auto it = std::find_if(
      live.inactive_calls.begin(), live.inactive_calls.end(),
      [&](const call& x) { return x.call_id == call_id; });
    call moved = std::move(*it);
    live.inactive_calls.erase(it);
    hold_active();
    moved.state = call_state::on_call;
    live.active_call = std::move(moved);
  };
  auto apply_labels = [&](call& target) -> agent_error {
    metadata extra;
    if (!ev.ani.empty())
      extra.emplace_back("ani", ev.ani);
    if (!ev.dnis.empty())
      extra.emplace_back("dnis", ev.dnis);
    if (!ev.direction.empty())
      extra.emplace_back("calldirection", ev.direction);
    if (auto e = merge_into(target.meta, extra))
      return e;
    sync_call_metadata(target);
    if (!ev.call_identifier.empty())
      label_call(target, ev.call_identifier);
    return {};
  };
  changed_ = true;
  switch (ev.type) {
    case cti_type::call_started: {
      if (c == nullptr) {
        hold_active();
        call fresh;
        fresh.call_id = ev.call_id;
        fresh.state = call_state::on_call;
        fresh.start = at;
        live.active_call = std::move(fresh);
      } else {
        make_active(c->call_id);
      }
      if ((out.error = apply_labels(*live.active_call)))
        return out;
      if (c == nullptr)
        merge_metadata(live.active_call->meta,
                       {{"starttime", format_time(at)}});
      break;
    }
    case cti_type::call_held:
    case cti_type::call_parked: {
      if (c == nullptr) {
        not_found();
        return out;
      }
      auto state = ev.type == cti_type::call_held ? call_state::on_hold
                                                  : call_state::parked;
      if (live.active_call && &*live.active_call == c) {
        hold_active();
        c = &live.inactive_calls.back();
      }
      c->state = state;
      if ((out.error = apply_labels(*c)))
        return out;
      break;
    }
    case cti_type::call_retrieved: {
      if (c == nullptr) {
        not_found();
        return out;
      }
      make_active(c->call_id);
      if ((out.error = apply_labels(*live.active_call)))
        return out;
      break;
    }
    case cti_type::call_ended: {
      if (c == nullptr) {
        not_found();
        return out;
      }
      remove_call(c->call_id, std::min(at, now));
      break;
    }
  }
  out.body = "{\"AgentId\":" + std::to_string(agent_id_) + ",\"Type\":\""
             + to_string(ev.type) + "\",\"CallInstance\":";
  append_json_string(out.body, ev.call_id);
  out.body += ",\"ActiveCall\":";
  if (live.active_call)
    append_call(out.body, *live.active_call);
  else
    out.body += "null";
  out.body.push_back('}');
  return out;
}

outcome agent_state::on_remove(timestamp now) {
  outcome out;
  auto stop_all = [&](call& c) {
    for (auto& r : c.recordings)
      if (r.running())
        stop_recording(r, now, stop_reason::agent_removed);
  };
  if (live.active_call)
    stop_all(*live.active_call);
  for (auto& c : live.inactive_calls)
    stop_all(c);
  if (live.desktop_session && live.desktop_session->running())
    stop_recording(*live.desktop_session, now, stop_reason::agent_removed);
  // Everything touched is written once more; then the agent is gone.
  for_each_recording([&](const recording& r) {
    if (std::find(touched_.begin(), touched_.end(), r.id) != touched_.end())
      retired_.push_back(r);
  });
  touched_.clear();
  live = agent_live{};
  changed_ = true;
  out.body = "{\"AgentId\":" + std::to_string(agent_id_)
             + ",\"Removed\":true,\"StoppedRecordings\":"
             + std::to_string(retired_.size()) + "}";
  return out;
}

// -- blackouts --------------------------------------------------------------

void agent_state::begin_blackout(timestamp at) {
  blackout_touched_ = true;
  auto& b = live.blackout;
  // What changes is the running period, from `at` (or from its earlier
  // start, if one ran already and now starts later).
  const timestamp changed_from
    = b.active && b.start ? std::min(at, *b.start) : at;
  b.active = true;
  b.start = at;
  b.stop.reset();
  b.scheduled_start.reset();
  b.origin = settings_->server_id;
  changed_ = true;
  derive_all_blackouts(changed_from);
}

void agent_state::end_blackout(timestamp at) {
  blackout_touched_ = true;
  auto& b = live.blackout;
  const timestamp began = b.start.value_or(at);
  // The running period [began, open) becomes [began, at]: nothing before
  // `began` changes (a blackout not running: no such bound), unless the
  // history drops a period below (see below).
  timestamp changed_from
    = b.active ? std::min(began, at) : std::numeric_limits<timestamp>::min();
  b.active = false;
  b.stop = at;
  b.scheduled_stop.reset();
  b.origin = settings_->server_id;
  if (at > began)
    b.history.push_back({began, at});
  // Keep what a retroactive change may still need: the recent window.
  auto& h = b.history;
  const auto periods = h.size();
  h.erase(std::remove_if(h.begin(), h.end(),
                         [&](const interval& i) {
                           return *i.stop + settings_->recent_window_ms
                                  < now_;
                         }),
          h.end());
  if (h.size() > settings_->recent_max)
    h.erase(h.begin(), h.end() - settings_->recent_max);
  // A dropped period moves the horizon of what derives from the history
  // (and retroactive blackouts leave it in no time order): all again.
  if (h.size() != periods)
    changed_from = std::numeric_limits<timestamp>::min();
  changed_ = true;
  derive_all_blackouts(changed_from);
}

void agent_state::derive_blackouts(recording& r) {
  derive_blackouts_into(r, derived_);
  if (derived_ != r.blackouts) {
    r.blackouts = derived_;
    touch(r);
  }
}

void agent_state::derive_all_blackouts(timestamp changed_from) {
  auto each_call = [&](call& c) {
    for (auto& r : c.recordings)
      derive_blackouts(r);
  };
  if (live.active_call)
    each_call(*live.active_call);
  for (auto& c : live.inactive_calls)
    each_call(c);
  if (live.desktop_session)
    derive_blackouts(*live.desktop_session);
  for (std::size_t i = 0; i < live.recent.size(); ++i) {
    // A recording that stopped by the time the changed period begins
    // overlaps no period that changed: pruning the history (oldest first)
    // keeps intervals older than what is left, so what it derives to is
    // what it holds (every blackout change derives every recording).
    const auto& stop = live.recent[i].stop;
    if (stop && *stop <= changed_from)
      continue;
    derive_blackouts_into(live.recent[i], derived_);
    if (derived_ != live.recent[i].blackouts) {
      auto& r = live.recent.edit()[i];
      r.blackouts = derived_;
      touch(r);
    }
  }
}

void agent_state::derive_blackouts_into(const recording& r,
                                        std::vector<interval>& out) const {
  const auto& b = live.blackout;
  // The periods: the history, then the running blackout (open).
  const bool running = b.active && b.start.has_value();
  auto each_period = [&](auto&& f) {
    for (auto& p : b.history)
      f(p);
    if (running)
      f(interval{*b.start, std::nullopt});
  };
  // Closed intervals from blackouts older than everything still known
  // stay. An open one can only belong to the running blackout, which is
  // a period: a stale open one (a blackout that ended where it began
  // leaves no history) is dropped.
  std::optional<timestamp> horizon;
  each_period([&](const interval& p) {
    if (!horizon || p.start < *horizon)
      horizon = p.start;
  });
  out.clear();
  for (auto& i : r.blackouts)
    if (i.stop && (!horizon || i.start < *horizon))
      out.push_back(i);
  each_period([&](const interval& p) {
    interval i{std::max(p.start, r.start), std::nullopt};
    if (p.stop && r.stop)
      i.stop = std::min(*p.stop, *r.stop);
    else if (p.stop)
      i.stop = p.stop;
    else if (r.stop)
      i.stop = r.stop;
    if (i.stop && *i.stop <= i.start)
      return; // no overlap
    out.push_back(i);
  });
  std::sort(out.begin(), out.end(),
            [](const interval& x, const interval& y) {
              return x.start < y.start;
            });
  // Overlapping or touching intervals merge, in place.
  std::size_t kept = 0;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const interval i = out[k];
    if (kept > 0 && (!out[kept - 1].stop || i.start <= *out[kept - 1].stop)) {
      auto& m = out[kept - 1];
      if (m.stop && (!i.stop || *i.stop > *m.stop))
        m.stop = i.stop;
      continue;
    }
    out[kept++] = i;
  }
  out.resize(kept);
}

void agent_state::advance_blackout(timestamp now) {
  auto& b = live.blackout;
  for (;;) {
    if (!b.active) {
      if (b.scheduled_start && *b.scheduled_start <= now) {
        begin_blackout(*b.scheduled_start);
        continue;
      }
      return;
    }
    std::optional<timestamp> end = b.scheduled_stop;
    if (settings_->max_blackout_ms > 0 && b.start) {
      timestamp limit = *b.start + settings_->max_blackout_ms;
      if (!end || limit < *end)
        end = limit;
    }
    if (end && *end <= now) {
      end_blackout(*end);
      continue;
    }
    return;
  }
}

std::optional<timestamp> agent_state::next_deadline() const {
  const auto& b = live.blackout;
  if (!b.active)
    return b.scheduled_start;
  std::optional<timestamp> end = b.scheduled_stop;
  if (settings_->max_blackout_ms > 0 && b.start) {
    timestamp limit = *b.start + settings_->max_blackout_ms;
    if (!end || limit < *end)
      end = limit;
  }
  return end;
}

outcome agent_state::on_replicate(const command& cmd, timestamp now) {
  blackout_touched_ = true;
  outcome out;
  if (cmd.remote_blackout && cmd.remote_blackout->newer_than(live.blackout)) {
    live.blackout = *cmd.remote_blackout;
    changed_ = true;
    derive_all_blackouts();
    // A schedule or limit that is already due here takes effect now.
    advance_blackout(now);
  }
  out.body = render_blackout(live.blackout);
  return out;
}

outcome agent_state::on_blackout(const command& cmd, timestamp now) {
  blackout_touched_ = true;
  outcome out;
  auto& b = live.blackout;
  timestamp at = cmd.time.value_or(now);
  if (cmd.kind == command_kind::blackout_start) {
    if (!b.active) {
      if (b.scheduled_stop && at > *b.scheduled_stop) {
        out.error = {agent_errc::invalid_time,
                     "BlackoutStartTime " + format_time(at)
                       + " is after the scheduled stop "
                       + format_time(*b.scheduled_stop)};
        return out;
      }
      if (at > now) {
        if (b.scheduled_start != at) {
          b.scheduled_start = at;
          b.origin = settings_->server_id;
          changed_ = true;
        }
      } else {
        auto stop = b.scheduled_stop;
        begin_blackout(at);
        b.scheduled_stop = stop;
        advance_blackout(now);
      }
    }
  } else {
    const auto began = b.active ? b.start : b.scheduled_start;
    if (began && !b.active && !cmd.time_given) {
      // A plain stop before a scheduled start: the blackout is called off.
      b.scheduled_start.reset();
      b.scheduled_stop.reset();
      b.origin = settings_->server_id;
      changed_ = true;
    } else if (began) {
      // A plain stop (receipt time, no time given) received before the
      // start of the blackout it finds: the start came from another
      // server between this stop's receipt and now, or that server's
      // clock runs ahead of this one's. The client asked to stop what the
      // agent shows: it ends at its start. Only a time the client gave can
      // be before the start (400).
      if (!cmd.time_given && at < *began)
        at = *began;
      if (at < *began) {
        out.error = {agent_errc::invalid_time,
                     "BlackoutStopTime " + format_time(at)
                       + " is before the blackout start "
                       + format_time(*began)};
        return out;
      }
      if (b.active && at <= now) {
        end_blackout(at);
      } else if (b.scheduled_stop != at) {
        b.scheduled_stop = at;
        b.origin = settings_->server_id;
        changed_ = true;
      }
    }
  }
  out.body = render_blackout(b);
  return out;
}

} // namespace rapi
