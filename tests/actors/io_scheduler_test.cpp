/// Actors run on an asio io_context's threads (actors/io_scheduler.hpp), the
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

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
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

/// Two threads run an io_context that agent-like actors run on.
struct io_threads {
  asio::io_context ioc;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>
    work = std::make_unique<
      asio::executor_work_guard<asio::io_context::executor_type>>(
      ioc.get_executor());
  std::vector<std::thread> threads;
  std::mutex mtx;
  std::condition_variable cv;
  std::set<std::uint64_t> ids; ///< the threads' ids, hashed

  io_threads() {
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([this] {
        {
          std::lock_guard<std::mutex> guard{mtx};
          ids.insert(std::hash<std::thread::id>{}(std::this_thread::get_id()));
        }
        cv.notify_all();
        ioc.run();
      });
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [this] { return ids.size() == 2; });
  }

  void stop() {
    work.reset();
    ioc.stop();
    for (auto& t : threads)
      t.join();
    threads.clear();
  }

  ~io_threads() {
    if (!threads.empty())
      stop();
  }
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
    rapi::run_actors_on(cfg, io.ioc);
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
      asio::post(io.ioc, [&, sent, t] {
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
    rapi::run_actors_on(cfg, io.ioc);
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

BOOST_AUTO_TEST_SUITE_END()
