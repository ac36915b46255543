/// Actors run on the threads of asio io_contexts, a thread each
/// (common/io_lanes.hpp, actors/io_scheduler.hpp), the
/// way the server runs agent actors on its HTTP threads: messages arrive in
/// order, replies and timers work, and the actor system ends after the
/// threads have stopped without waiting forever.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <sched.h>

#include <asio/post.hpp>
#include <caf/all.hpp>

#include "actors/io_scheduler.hpp"

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using where_atom = caf::atom_constant<caf::atom("where")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

/// Checks that the numbers it gets arrive in the order they were sent and
/// answers `count` with how many arrived and whether any came out of order.
/// (Every actor here takes an argument: CAF 0.17's spawn without one binds
/// a reference to null, which UBSan reports.)
caf::behavior sequencer(caf::event_based_actor*, int) {
  auto next = std::make_shared<int>(0);
  auto disorder = std::make_shared<bool>(false);
  return {
    [=](ping_atom, int n) {
      if (n != *next)
        *disorder = true;
      *next = n + 1;
    },
    [=](count_atom) { return std::make_tuple(*next, *disorder); },
    [=](where_atom) {
      return static_cast<std::uint64_t>(
        std::hash<std::thread::id>{}(std::this_thread::get_id()));
    },
  };
}

/// Two lanes (a thread and an io_context each) that agent-like actors run
/// on, as the server's listener threads.
struct io_threads {
  rapi::io_lanes lanes{2};
  std::set<std::uint64_t> ids; ///< the lanes' threads' ids, hashed

  io_threads() {
    lanes.start();
    for (std::size_t i = 0; i < lanes.size(); ++i) {
      std::promise<std::uint64_t> id;
      asio::post(lanes.at(i), [&id] {
        id.set_value(std::hash<std::thread::id>{}(std::this_thread::get_id()));
      });
      ids.insert(id.get_future().get());
    }
  }

  void stop() { lanes.stop(); }
};

/// Ends the process if the test hangs (the actor system's end once waited
/// forever for a listener thread's reference to CAF's logger).
struct watchdog {
  std::promise<void> done;
  std::thread t;
  watchdog() {
    t = std::thread([f = done.get_future()]() mutable {
      if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
        std::cerr << "io_scheduler test: hung\n";
        std::abort();
      }
    });
  }
  ~watchdog() {
    done.set_value();
    t.join();
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(io_scheduler)

BOOST_AUTO_TEST_CASE(actors_run_on_the_io_threads_in_order) {
  watchdog dog;
  io_threads io;
  {
    caf::actor_system_config cfg;
    rapi::run_actors_on(cfg, io.lanes);
    auto sys = std::make_unique<caf::actor_system>(cfg);
    std::vector<caf::actor> actors;
    for (int i = 0; i < 8; ++i)
      actors.push_back(sys->spawn(sequencer, i));
    // Sent from the io threads themselves (as the HTTP handlers do), and
    // spawned there too: each actor must see its numbers in order.
    auto sent = std::make_shared<std::promise<void>>();
    auto sent_f = sent->get_future();
    std::atomic<int> senders{0};
    for (int t = 0; t < 2; ++t)
      asio::post(io.lanes.at(t), [&, sent, t] {
        for (int n = 0; n < 2000; ++n)
          caf::anon_send(actors[(n % 4) * 2 + t], ping_atom::value, n / 4);
        // A spawn leaves a thread-local reference to CAF's logger on the
        // spawning thread, as an agent's first use does.
        sys->spawn(sequencer, 100 + t);
        if (++senders == 2)
          sent->set_value();
      });
    sent_f.wait();
    {
      caf::scoped_actor self{*sys};
      for (auto& a : actors) {
        self->request(a, caf::infinite, count_atom::value)
          .receive(
            [&](int n, bool disorder) {
              BOOST_TEST(n == 500);
              BOOST_TEST(!disorder);
            },
            [&](caf::error& err) {
              BOOST_FAIL(sys->render(err));
            });
        self->request(a, caf::infinite, where_atom::value)
          .receive(
            [&](std::uint64_t id) { BOOST_TEST(io.ids.count(id) == 1u); },
            [&](caf::error& err) { BOOST_FAIL(sys->render(err)); });
      }
      for (auto& a : actors)
        self->send_exit(a, caf::exit_reason::user_shutdown);
      actors.clear();
    }
    // As the server ends: the actors, then the threads, then the system.
    sys->await_all_actors_done();
    io.stop();
    sys.reset();
  }
}

BOOST_AUTO_TEST_CASE(delayed_messages_arrive) {
  watchdog dog;
  io_threads io;
  {
    caf::actor_system_config cfg;
    rapi::run_actors_on(cfg, io.lanes);
    caf::actor_system sys{cfg};
    auto got = std::make_shared<std::promise<std::chrono::steady_clock::time_point>>();
    auto start = std::chrono::steady_clock::now();
    auto a = sys.spawn([got](caf::event_based_actor* self,
                             int) -> caf::behavior {
      self->delayed_send(self, std::chrono::milliseconds(50), ping_atom::value,
                         0);
      return {
        [=](ping_atom, int) {
          got->set_value(std::chrono::steady_clock::now());
          self->quit();
        },
      };
    }, 0);
    auto f = got->get_future();
    BOOST_REQUIRE(bool(f.wait_for(std::chrono::seconds(10))
                       == std::future_status::ready));
    BOOST_TEST(bool(f.get() - start >= std::chrono::milliseconds(50)));
    sys.await_all_actors_done();
    io.stop();
  }
}

BOOST_AUTO_TEST_CASE(deferred_jobs_stay_on_their_lane_and_others_take_turns) {
  watchdog dog;
  io_threads io;
  BOOST_TEST(io.ids.size() == 2u);
  BOOST_TEST(io.lanes.mine() == nullptr);
  // From a lane's thread: the job runs on that lane, after the current job.
  for (std::size_t i = 0; i < io.lanes.size(); ++i) {
    std::promise<bool> same;
    asio::post(io.lanes.at(i), [&io, &same, i] {
      BOOST_TEST(io.lanes.mine() == &io.lanes.at(i));
      auto order = std::make_shared<int>(0);
      rapi::defer_on(io.lanes, [&io, &same, i, order] {
        same.set_value(io.lanes.mine() == &io.lanes.at(i) && *order == 1);
      });
      *order = 1; // still first: the deferred job waits for this one
    });
    BOOST_TEST(same.get_future().get());
  }
  // From elsewhere: the lanes in turn.
  std::mutex mtx;
  std::set<asio::io_context*> ran_on;
  std::vector<std::promise<void>> done(4);
  for (auto& d : done)
    rapi::defer_on(io.lanes, [&] {
      std::lock_guard<std::mutex> guard{mtx};
      ran_on.insert(io.lanes.mine());
      d.set_value();
    });
  for (auto& d : done)
    d.get_future().wait();
  BOOST_TEST(ran_on.size() == 2u);
  BOOST_TEST(ran_on.count(nullptr) == 0u);
  io.stop();
  BOOST_TEST(io.lanes.stopped());
}

BOOST_AUTO_TEST_CASE(lane_cpus_are_one_each_or_none) {
  using v = std::vector<int>;
  BOOST_TEST(rapi::lane_cpus(v{0, 1}, 2) == (v{0, 1}));
  BOOST_TEST(rapi::lane_cpus(v{0, 1, 2, 3}, 2) == (v{0, 1}));
  BOOST_TEST(rapi::lane_cpus(v{2, 5, 7}, 3) == (v{2, 5, 7})); // a cpuset
  BOOST_TEST(rapi::lane_cpus(v{0}, 2).empty()); // two lanes, one CPU
  BOOST_TEST(rapi::lane_cpus(v{0, 1}, 3).empty());
  BOOST_TEST(rapi::lane_cpus(v{}, 1).empty());
}

BOOST_AUTO_TEST_CASE(pinned_lanes_run_only_on_their_cpus) {
  watchdog dog;
  const auto allowed = rapi::allowed_cpus();
  BOOST_REQUIRE(!allowed.empty());
  for (std::size_t n : {std::size_t{1}, std::size_t{2}}) {
    rapi::io_lanes lanes(n);
    lanes.start(true);
    if (allowed.size() < n) {
      BOOST_TEST(lanes.pinned().empty());
      continue;
    }
    BOOST_REQUIRE(lanes.pinned().size() == n);
    for (std::size_t i = 0; i < n; ++i) {
      BOOST_TEST(lanes.pinned()[i] == allowed[i]);
      std::promise<std::vector<int>> mask;
      asio::post(lanes.at(i), [&mask] { mask.set_value(rapi::allowed_cpus()); });
      BOOST_TEST(mask.get_future().get() == std::vector<int>{allowed[i]});
    }
    lanes.stop();
  }
  // Unpinned, a lane's thread may run wherever the process may.
  rapi::io_lanes lanes(1);
  lanes.start();
  BOOST_TEST(lanes.pinned().empty());
  std::promise<std::vector<int>> mask;
  asio::post(lanes.at(0), [&mask] { mask.set_value(rapi::allowed_cpus()); });
  BOOST_TEST(mask.get_future().get() == allowed);
}

BOOST_AUTO_TEST_SUITE_END()
