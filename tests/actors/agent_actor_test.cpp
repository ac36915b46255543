/// The agent actor under CAF's deterministic test scheduler: its timers run
/// on the scheduler's simulated clock, which is also the clock injected into
/// the actor, so blackout schedules fire exactly when the test says.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/agent_actor.hpp"
#include "actors/agent_store.hpp"
#include "actors/codec.hpp"
#include "storage/keys.hpp"
#include "storage/memory_store.hpp"

using namespace rapi;

namespace {

constexpr timestamp base = 1'795'000'000'000; // 2026-11-18, arbitrary

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  memory_store store;
  directory dir;
  agent_services svc;
  agent_entry_ptr entry;
  std::vector<agent_reply> replies;

  fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    svc.sys = sys.get();
    svc.store = &store;
    svc.dir = &dir;
    svc.settings.server_id = "server-a";
    svc.settings.max_blackout_ms = 600'000;
    svc.now = [this] { return now(); };
    entry = std::make_shared<agent_entry>(7);
    agent_profile p;
    p.id = 7;
    entry->set_profile(std::make_shared<const agent_profile>(p));
    entry->set_live(empty_live());
    ensure_agent_actor(entry, &svc);
    sched->run();
  }

  ~fixture() {
    stop_agent(*entry);
    sched->run();
  }

  timestamp now() const {
    return base
           + std::chrono::duration_cast<std::chrono::milliseconds>(
               sched->clock().current_time.time_since_epoch())
               .count();
  }

  agent_reply send(command cmd) {
    replies.clear();
    send_to_agent(entry,
                  agent_request{std::move(cmd),
                                [this](agent_reply r) {
                                  replies.push_back(std::move(r));
                                }},
                  &svc);
    sched->run();
    BOOST_REQUIRE_EQUAL(replies.size(), 1u);
    return replies.front();
  }

  agent_reply blackout(command_kind k, std::optional<timestamp> at) {
    command c;
    c.kind = k;
    c.time = at;
    return send(c);
  }

  void advance(std::chrono::milliseconds d) {
    sched->advance_time(d);
    sched->run();
  }

  const blackout_state& state() const { return entry->live()->blackout; }

  /// The agent's live state as stored (what a restart would read).
  agent_live stored_live() {
    storage_status st;
    auto v = store.get(keys::live(7), st);
    BOOST_REQUIRE(v.has_value());
    agent_live live;
    std::string why;
    BOOST_REQUIRE_MESSAGE(read_stored_live(store, *v, live, why), why);
    return live;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(agent_actor, fixture)

BOOST_AUTO_TEST_CASE(scheduled_start_fires_on_time) {
  auto r = blackout(command_kind::blackout_start, now() + 60'000);
  BOOST_TEST(!r.error);
  BOOST_TEST(!state().active);
  BOOST_TEST((state().scheduled_start == base + 60'000));
  advance(std::chrono::milliseconds(59'999));
  BOOST_TEST(!state().active);
  advance(std::chrono::milliseconds(1));
  BOOST_TEST(state().active);
  BOOST_TEST((state().start == base + 60'000));
  BOOST_TEST(!state().scheduled_start);
}

BOOST_AUTO_TEST_CASE(scheduled_stop_fires_on_time) {
  blackout(command_kind::blackout_start, std::nullopt);
  BOOST_TEST(state().active);
  blackout(command_kind::blackout_stop, now() + 5'000);
  BOOST_TEST(state().active);
  BOOST_TEST((state().scheduled_stop == base + 5'000));
  advance(std::chrono::milliseconds(5'000));
  BOOST_TEST(!state().active);
  BOOST_TEST((state().stop == base + 5'000));
}

BOOST_AUTO_TEST_CASE(limit_ends_blackout_at_start_plus_limit) {
  blackout(command_kind::blackout_start, now() - 1'000);
  BOOST_TEST(state().active);
  advance(std::chrono::milliseconds(598'999));
  BOOST_TEST(state().active);
  advance(std::chrono::milliseconds(1));
  BOOST_TEST(!state().active);
  BOOST_TEST((state().stop == base - 1'000 + 600'000));
}

BOOST_AUTO_TEST_CASE(replaced_schedule_leaves_nothing_behind) {
  blackout(command_kind::blackout_start, now() + 10'000);
  blackout(command_kind::blackout_start, now() + 30'000);
  // The wake-up armed for the first time finds nothing due.
  advance(std::chrono::milliseconds(10'000));
  BOOST_TEST(!state().active);
  BOOST_TEST((state().scheduled_start == base + 30'000));
  advance(std::chrono::milliseconds(20'000));
  BOOST_TEST(state().active);
  BOOST_TEST((state().start == base + 30'000));
  // Stop it; the limit wake-up of the stopped blackout changes nothing.
  blackout(command_kind::blackout_stop, std::nullopt);
  auto stopped = state();
  advance(std::chrono::milliseconds(700'000));
  BOOST_TEST((state() == stopped));
  BOOST_TEST(!sched->has_pending_timeout());
}

BOOST_AUTO_TEST_CASE(many_blackouts_leave_at_most_one_tick_waiting) {
  // Each start arms the maxagentblackout limit; stops disarm it. A tick per
  // start would wait in CAF's clock for the whole limit (600 s here).
  for (int i = 0; i < 50; ++i) {
    blackout(command_kind::blackout_start, std::nullopt);
    blackout(command_kind::blackout_stop, std::nullopt);
    advance(std::chrono::milliseconds(1'000));
  }
  BOOST_TEST(sched->clock().schedule().size() == 1u);
  // The last blackout still ends at its own limit: the waiting tick (due
  // at the first one's) finds the deadline moved and sends the next.
  blackout(command_kind::blackout_start, std::nullopt);
  auto started = now();
  BOOST_TEST(sched->clock().schedule().size() == 1u);
  advance(std::chrono::milliseconds(599'999));
  BOOST_TEST(state().active);
  advance(std::chrono::milliseconds(1));
  BOOST_TEST(!state().active);
  BOOST_TEST((state().stop == started + 600'000));
  BOOST_TEST(!sched->has_pending_timeout());
}

BOOST_AUTO_TEST_CASE(every_change_is_stored_before_the_reply) {
  blackout(command_kind::blackout_start, now() + 1'000);
  auto live = stored_live();
  BOOST_TEST((live.blackout.scheduled_start == base + 1'000));
  advance(std::chrono::milliseconds(1'000));
  live = stored_live();
  BOOST_TEST(live.blackout.active);
}

BOOST_AUTO_TEST_CASE(failed_write_answers_500_and_changes_nothing) {
  command start_call;
  start_call.kind = command_kind::cti_event;
  start_call.event.call_id = "c-1";
  BOOST_TEST(!send(start_call).error);
  auto before = *entry->live();
  store.fail_writes = true;
  command rec;
  rec.kind = command_kind::record_start;
  auto r = send(rec);
  BOOST_TEST((r.error.code == agent_errc::storage_failure));
  BOOST_TEST(entry->live()->active_call->recordings.empty());
  store.fail_writes = false;
  // The actor's own state was rolled back too: the next start is a new one.
  r = send(rec);
  BOOST_TEST(!r.error);
  BOOST_TEST(entry->live()->active_call->recordings.size() == 1u);
  (void)before;
}

BOOST_AUTO_TEST_CASE(restored_past_schedule_takes_effect_with_original_time) {
  // An agent restored with a schedule whose time passed while it was down.
  auto e = std::make_shared<agent_entry>(8);
  agent_profile p;
  p.id = 8;
  e->set_profile(std::make_shared<const agent_profile>(p));
  agent_live live;
  live.blackout.scheduled_start = base - 5'000;
  e->set_live(std::make_shared<const agent_live>(live));
  ensure_agent_actor(e, &svc);
  sched->run();
  BOOST_TEST(e->live()->blackout.active);
  BOOST_TEST((e->live()->blackout.start == base - 5'000));
  stop_agent(*e);
  sched->run();
}

BOOST_AUTO_TEST_CASE(removed_agent_answers_not_found) {
  command rm;
  rm.kind = command_kind::remove;
  BOOST_TEST(!send(rm).error);
  BOOST_TEST(entry->removed.load());
}

BOOST_AUTO_TEST_SUITE_END()

// -- through the group committer (as the server runs) -----------------------

namespace {

/// Sends one command with a group committer in place and waits for the
/// committer's answer. The committer is stopped (its thread joined) before
/// the scheduler runs again, so the actor's commit message is queued by
/// then: CAF's test scheduler is single-threaded. With `inline_writes` the
/// idle committer lets the actor write the batch itself (as the server
/// does at a light load); without, the batch goes through its thread.
struct committed_reply {
  agent_reply reply;
  /// The published snapshot at the moment the answer was sent.
  std::shared_ptr<const agent_live> seen;
};

committed_reply send_committed(fixture& f, command cmd, bool inline_writes) {
  group_committer committer{f.store, 4096, inline_writes};
  f.svc.committer = &committer;
  std::mutex mtx;
  std::optional<committed_reply> got;
  send_to_agent(f.entry,
                agent_request{std::move(cmd),
                              [&](agent_reply r) {
                                std::lock_guard<std::mutex> guard{mtx};
                                got = committed_reply{std::move(r),
                                                      f.entry->live()};
                              }},
                &f.svc);
  f.sched->run(); // the actor applies the command and hands its batch over
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (got)
        break;
    }
    BOOST_REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  BOOST_TEST(committer.written().by_writer == (inline_writes ? 1u : 0u));
  committer.stop();
  f.svc.committer = nullptr;
  f.sched->run(); // the actor learns of the commit
  return std::move(*got);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(agent_actor_committed, fixture)

BOOST_DATA_TEST_CASE(the_answer_follows_the_published_state,
                     boost::unit_test::data::make({false, true}),
                     inline_writes) {
  command start_call;
  start_call.kind = command_kind::cti_event;
  start_call.event.call_id = "c-1";
  auto r = send_committed(*this, start_call, inline_writes);
  BOOST_TEST(!r.reply.error);
  // A client holding its 200 reads its change.
  BOOST_REQUIRE(r.seen->active_call.has_value());
  BOOST_TEST(r.seen->active_call->call_id == "c-1");
  command rec;
  rec.kind = command_kind::record_start;
  r = send_committed(*this, rec, inline_writes);
  BOOST_TEST(!r.reply.error);
  BOOST_REQUIRE(r.seen->active_call.has_value());
  BOOST_TEST(r.seen->active_call->recordings.size() == 1u);
  // And it is stored.
  auto stored = stored_live();
  BOOST_REQUIRE(stored.active_call.has_value());
  BOOST_TEST(stored.active_call->recordings.size() == 1u);
}

BOOST_DATA_TEST_CASE(a_failed_group_write_answers_500_and_changes_nothing,
                     boost::unit_test::data::make({false, true}),
                     inline_writes) {
  command start_call;
  start_call.kind = command_kind::cti_event;
  start_call.event.call_id = "c-1";
  BOOST_TEST(!send_committed(*this, start_call, inline_writes).reply.error);
  store.fail_writes = true;
  command rec;
  rec.kind = command_kind::record_start;
  auto r = send_committed(*this, rec, inline_writes);
  BOOST_TEST((r.reply.error.code == agent_errc::storage_failure));
  BOOST_TEST(r.seen->active_call->recordings.empty());
  BOOST_TEST(entry->live()->active_call->recordings.empty());
  store.fail_writes = false;
  // The actor's own state was rolled back: the next start is the first.
  r = send_committed(*this, rec, inline_writes);
  BOOST_TEST(!r.reply.error);
  BOOST_TEST(r.seen->active_call->recordings.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
