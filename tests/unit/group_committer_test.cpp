/// The group committer: a writer may write its own batch when nothing else
/// is queued or being written; otherwise batches go through a drain job
/// (given a poster) or the committer's thread, one write at a time, in the
/// order they were handed in.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/group_committer.hpp"
#include "storage/memory_store.hpp"

using namespace rapi;

namespace {

/// A memory store whose writes wait while the gate is closed, and which
/// records the first key of every write in the order the writes happened.
class gated_store final : public forwarding_store {
public:
  gated_store() : forwarding_store(memory_) {}

  storage_status write(const write_batch& batch) override {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_ || passes_ > 0; });
      if (!open_)
        --passes_;
      order_.push_back(batch.ops.empty() ? "" : batch.ops.front().key);
      for (auto& op : batch.ops)
        order_.push_back("  " + op.key);
    }
    return memory_.write(batch);
  }
  /// While `stalled` is set, refuses as RocksDB does in a write stall.
  storage_status write_or_refuse(const write_batch& batch) override {
    if (stalled)
      return {"writes are held back", true};
    return write(batch);
  }

  std::atomic<bool> stalled{false};

  void close() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = false;
  }
  void open() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      open_ = true;
    }
    cv_.notify_all();
  }
  /// Lets `n` more writes through a closed gate.
  void let_through(int n) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      passes_ += n;
    }
    cv_.notify_all();
  }
  /// Waits until `n` writes have started (bounded; false on timeout).
  bool wait_entered(int n) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return entered_ >= n; });
  }
  /// Writes' first keys, each followed by its keys indented.
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> guard{mtx_};
    return order_;
  }

private:
  memory_store memory_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = true;
  int passes_ = 0;
  int entered_ = 0;
  std::vector<std::string> order_;
};

write_batch one(const std::string& key) {
  write_batch b;
  b.put(key, "v");
  return b;
}

/// `try_write_now`, with the status it reported (if it wrote).
bool write_now(group_committer& c, const write_batch& b, storage_status& st) {
  return c.try_write_now(b, [&st](const storage_status& s) { st = s; });
}

/// `submit` with a future for its status.
std::future<storage_status> submit(group_committer& c, write_batch b) {
  auto p = std::make_shared<std::promise<storage_status>>();
  auto f = p->get_future();
  c.submit(std::move(b), [p](const storage_status& st) { p->set_value(st); });
  return f;
}

bool ready(std::future<storage_status>& f) {
  return f.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
}

bool still_waiting(std::future<storage_status>& f) {
  return f.wait_for(std::chrono::milliseconds(50))
         != std::future_status::ready;
}

/// A poster that keeps the drain jobs until the test runs them.
class posted_jobs {
public:
  group_committer::poster poster() {
    return [this](std::function<void()> job) {
      std::lock_guard<std::mutex> guard{mtx_};
      jobs_.push_back(std::move(job));
    };
  }
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mtx_};
    return jobs_.size();
  }
  void run_all() {
    std::vector<std::function<void()>> jobs;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      jobs.swap(jobs_);
    }
    for (auto& j : jobs)
      j();
  }

private:
  std::mutex mtx_;
  std::vector<std::function<void()>> jobs_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(group_commit)

BOOST_AUTO_TEST_CASE(an_idle_committer_lets_the_writer_write) {
  gated_store store;
  group_committer c{store};
  storage_status st{"untouched"};
  BOOST_TEST(write_now(c, one("a"), st));
  BOOST_TEST(st.ok());
  storage_status got;
  BOOST_TEST(store.get("a", got).has_value());
  BOOST_TEST(c.written().by_writer == 1u);
  BOOST_TEST(c.written().groups == 1u);
  BOOST_TEST(c.written().batches == 1u);
}

BOOST_AUTO_TEST_CASE(a_writer_writes_what_waited_and_ends_its_turn_before_answering) {
  // "b", handed in during "a"'s inline write, is written before "a"'s
  // callback runs, and by then the turn is over.
  gated_store store;
  group_committer c{store};
  store.close();
  std::atomic<bool> b_stored{false}, c_wrote{false};
  std::thread writer{[&] {
    c.try_write_now(one("a"), [&](const storage_status&) {
      storage_status got;
      b_stored = store.get("b", got).has_value();
      storage_status st;
      c_wrote = write_now(c, one("c"), st);
    });
  }};
  BOOST_REQUIRE(store.wait_entered(1));
  auto fb = submit(c, one("b"));
  store.open();
  writer.join();
  BOOST_REQUIRE(ready(fb));
  BOOST_TEST(b_stored.load());
  BOOST_TEST(c_wrote.load());
  BOOST_TEST(c.written().by_writer == 3u);
  BOOST_TEST(c.written().batches == 3u);
}

BOOST_AUTO_TEST_CASE(a_writer_nothing_waited_for_ends_its_turn_before_answering) {
  // The callback answers the request (a socket write, longer than the
  // store write): meanwhile another writer writes itself rather than
  // queueing behind it.
  gated_store store;
  group_committer c{store};
  bool inner = false;
  storage_status st_inner{"untouched"};
  BOOST_TEST(c.try_write_now(one("a"), [&](const storage_status& st) {
    BOOST_TEST(st.ok());
    inner = write_now(c, one("b"), st_inner);
  }));
  BOOST_TEST(inner);
  BOOST_TEST(st_inner.ok());
  storage_status got;
  BOOST_TEST(store.get("b", got).has_value());
  BOOST_TEST(c.written().by_writer == 2u);
  BOOST_TEST(c.written().groups == 2u);
}

BOOST_AUTO_TEST_CASE(a_failed_inline_write_reports_its_error) {
  memory_store store;
  store.fail_writes = true;
  group_committer c{store};
  storage_status st;
  BOOST_TEST(write_now(c, one("a"), st));
  BOOST_TEST(!st.ok());
  BOOST_TEST(!st.message.empty());
}

BOOST_AUTO_TEST_CASE(without_inline_writes_everything_goes_through_the_thread) {
  gated_store store;
  group_committer c{store, 4096, false};
  storage_status st;
  BOOST_TEST(!write_now(c, one("a"), st));
  storage_status got;
  BOOST_TEST(!store.get("a", got).has_value());
  auto f = submit(c, one("a"));
  BOOST_REQUIRE(ready(f));
  BOOST_TEST(f.get().ok());
  BOOST_TEST(store.get("a", got).has_value());
  BOOST_TEST(c.written().by_writer == 0u);
}

BOOST_AUTO_TEST_CASE(a_busy_committer_refuses_and_keeps_the_order) {
  gated_store store;
  group_committer c{store};
  store.close();
  // The thread is writing "a" (held at the gate)...
  auto fa = submit(c, one("a"));
  BOOST_REQUIRE(store.wait_entered(1));
  // ... so a writer may not write beside it, and hands "b" over instead.
  storage_status st;
  BOOST_TEST(!write_now(c, one("x"), st));
  auto fb = submit(c, one("b"));
  // "b" is queued: still no inline write, though nothing is being written
  // once "a" is done and before the thread takes "b".
  BOOST_TEST(!write_now(c, one("y"), st));
  store.open();
  BOOST_REQUIRE(ready(fa));
  BOOST_REQUIRE(ready(fb));
  auto order = store.order();
  BOOST_REQUIRE(order.size() == 4u);
  BOOST_TEST(order[0] == "a");
  BOOST_TEST(order[2] == "b");
  storage_status got;
  BOOST_TEST(!store.get("x", got).has_value());
  BOOST_TEST(!store.get("y", got).has_value());
}

BOOST_AUTO_TEST_CASE(batches_handed_in_during_an_inline_write_follow_it) {
  gated_store store;
  group_committer c{store};
  store.close();
  storage_status st;
  std::atomic<bool> wrote{false};
  std::thread writer{[&] {
    wrote = write_now(c, one("a"), st);
  }};
  BOOST_REQUIRE(store.wait_entered(1));
  // While "a" is written inline, "b" and "c" wait for it: nothing is
  // written beside an inline writer.
  auto fb = submit(c, one("b"));
  auto fc = submit(c, one("c"));
  BOOST_TEST(!(fb.wait_for(std::chrono::milliseconds(50))
               == std::future_status::ready));
  store.open();
  writer.join();
  BOOST_TEST(wrote.load());
  BOOST_REQUIRE(ready(fb));
  BOOST_REQUIRE(ready(fc));
  auto order = store.order();
  BOOST_REQUIRE(order.size() >= 4u);
  BOOST_TEST(order[0] == "a");
  // "b" and "c" after "a", in their order, as one group written by the
  // inline writer itself (the thread was not woken for them).
  BOOST_TEST((order == std::vector<std::string>{"a", "  a", "b", "  b",
                                                "  c"}));
  BOOST_TEST(c.written().by_writer == 2u);
  BOOST_TEST(c.written().groups == 2u);
  BOOST_TEST(c.written().batches == 3u);
}

BOOST_AUTO_TEST_CASE(a_stalled_store_sends_the_writer_to_the_thread) {
  gated_store store;
  group_committer c{store};
  store.stalled = true;
  storage_status st{"untouched"};
  bool called = false;
  BOOST_TEST(!c.try_write_now(one("a"), [&](const storage_status& s) {
    called = true;
    st = s;
  }));
  BOOST_TEST(!called); // nothing written, nothing answered
  storage_status got;
  BOOST_TEST(!store.get("a", got).has_value());
  BOOST_TEST(c.written().by_writer == 0u);
  // The thread may wait the stall out (`write`), and takes the batch.
  auto fa = submit(c, one("a"));
  BOOST_REQUIRE(ready(fa));
  BOOST_TEST(fa.get().ok());
  BOOST_TEST(store.get("a", got).has_value());
  // Once the stall is over, writers write themselves again.
  store.stalled = false;
  BOOST_TEST(write_now(c, one("b"), st));
  BOOST_TEST(st.ok());
}

BOOST_AUTO_TEST_CASE(stop_during_an_inline_write_waits_for_it) {
  gated_store store;
  auto c = std::make_unique<group_committer>(store);
  store.close();
  storage_status st;
  std::thread writer{[&] { write_now(*c, one("a"), st); }};
  BOOST_REQUIRE(store.wait_entered(1));
  auto stopped = std::async(std::launch::async, [&] { c->stop(); });
  BOOST_TEST(!(stopped.wait_for(std::chrono::milliseconds(50))
               == std::future_status::ready));
  store.open();
  writer.join();
  BOOST_REQUIRE(bool(stopped.wait_for(std::chrono::seconds(10))
                     == std::future_status::ready));
  // Stopped: no more inline writes, and submissions are refused.
  BOOST_TEST(!write_now(*c, one("b"), st));
  auto fb = submit(*c, one("b"));
  BOOST_REQUIRE(ready(fb));
  BOOST_TEST(!fb.get().ok());
}

BOOST_AUTO_TEST_CASE(what_piles_up_during_a_turn_gets_a_drain_job) {
  gated_store store;
  posted_jobs jobs;
  group_committer c{store, 4096, true, jobs.poster()};
  store.close();
  storage_status st;
  std::atomic<bool> wrote{false};
  std::thread writer{[&] { wrote = write_now(c, one("a"), st); }};
  BOOST_REQUIRE(store.wait_entered(1));
  auto fb = submit(c, one("b")); // waits for "a"; the writer takes it
  store.let_through(1);
  BOOST_REQUIRE(store.wait_entered(2)); // the writer writes "b"
  auto fc = submit(c, one("c"));        // ... and "c" waits for that
  store.open();
  writer.join();
  BOOST_TEST(wrote.load());
  BOOST_REQUIRE(ready(fb));
  // The writer's turn ended with "c" queued: a drain job is posted for it,
  // the thread is not woken.
  BOOST_TEST(jobs.size() == 1u);
  BOOST_TEST(still_waiting(fc));
  // Until the job runs, writers hand their batches to it.
  BOOST_TEST(!write_now(c, one("d"), st));
  auto fd = submit(c, one("d"));
  BOOST_TEST(jobs.size() == 1u);
  jobs.run_all();
  BOOST_REQUIRE(ready(fc));
  BOOST_REQUIRE(ready(fd));
  BOOST_TEST(fc.get().ok());
  BOOST_TEST(fd.get().ok());
  BOOST_TEST((store.order() == std::vector<std::string>{
                "a", "  a", "b", "  b", "c", "  c", "  d"}));
  BOOST_TEST(c.written().by_drain == 1u);
  BOOST_TEST(c.written().by_writer == 2u);
  BOOST_TEST(c.written().groups == 3u);
  BOOST_TEST(c.written().batches == 4u);
  // Nothing queued any more: a writer writes itself again.
  BOOST_TEST(write_now(c, one("e"), st));
  BOOST_TEST(jobs.size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_drain_held_back_by_a_stall_hands_its_group_to_the_thread) {
  gated_store store;
  posted_jobs jobs;
  group_committer c{store, 4096, true, jobs.poster()};
  store.stalled = true;
  auto fa = submit(c, one("a")); // nobody writing: a drain job is posted
  auto fb = submit(c, one("b")); // ... and takes this one too
  BOOST_TEST(jobs.size() == 1u);
  jobs.run_all(); // turned away: the thread waits the stall out
  BOOST_REQUIRE(ready(fa));
  BOOST_REQUIRE(ready(fb));
  BOOST_TEST(fa.get().ok());
  BOOST_TEST(fb.get().ok());
  // Still one write, in order, of both batches.
  BOOST_TEST((store.order() == std::vector<std::string>{"a", "  a", "  b"}));
  BOOST_TEST(c.written().by_drain == 0u);
  BOOST_TEST(c.written().by_writer == 0u);
  BOOST_TEST(c.written().groups == 1u);
  BOOST_TEST(c.written().batches == 2u);
  // The thread emptied the queue: the next batch gets a drain job again.
  store.stalled = false;
  auto fc = submit(c, one("c"));
  BOOST_TEST(jobs.size() == 1u);
  jobs.run_all();
  BOOST_REQUIRE(ready(fc));
  BOOST_TEST(c.written().by_drain == 1u);
}

BOOST_AUTO_TEST_CASE(stop_takes_over_from_a_drain_job_not_yet_run) {
  gated_store store;
  posted_jobs jobs;
  auto c = std::make_unique<group_committer>(store, 4096, true,
                                             jobs.poster());
  auto fa = submit(*c, one("a"));
  BOOST_TEST(jobs.size() == 1u);
  c->stop(); // the thread writes "a"
  BOOST_REQUIRE(ready(fa));
  BOOST_TEST(fa.get().ok());
  jobs.run_all(); // late: does nothing
  BOOST_TEST((store.order() == std::vector<std::string>{"a", "  a"}));
  BOOST_TEST(c->written().by_drain == 0u);
}

// -- side by side (in front of the journal) ----------------------------------

BOOST_AUTO_TEST_CASE(side_by_side_writers_write_at_the_same_time) {
  gated_store store;
  group_committer c{store, 4096, true, {}, true};
  store.close();
  std::atomic<int> wrote{0};
  std::thread first{[&] {
    storage_status st;
    wrote += write_now(c, one("a"), st) ? 1 : 0;
  }};
  BOOST_REQUIRE(store.wait_entered(1));
  // "a" is being written (held at the gate): "b" is written beside it,
  // not queued behind it.
  std::thread second{[&] {
    storage_status st;
    wrote += write_now(c, one("b"), st) ? 1 : 0;
  }};
  BOOST_TEST(store.wait_entered(2));
  store.open();
  first.join();
  second.join();
  BOOST_TEST(wrote.load() == 2);
  BOOST_TEST(c.written().by_writer == 2u);
  BOOST_TEST(c.written().groups == 2u);
  BOOST_TEST(c.written().batches == 2u);
}

BOOST_AUTO_TEST_CASE(side_by_side_writers_leave_a_stall_to_the_thread) {
  gated_store store;
  group_committer c{store, 4096, true, {}, true};
  store.stalled = true;
  storage_status st{"untouched"};
  BOOST_TEST(!write_now(c, one("a"), st)); // held back: the caller submits
  store.stalled = false;
  // Until the thread has written what is queued, writers queue too (the
  // thread holds the writes): "b" follows "a".
  store.close();
  auto fa = submit(c, one("a"));
  BOOST_REQUIRE(store.wait_entered(1));
  BOOST_TEST(!write_now(c, one("x"), st));
  auto fb = submit(c, one("b"));
  store.open();
  BOOST_REQUIRE(ready(fa));
  BOOST_REQUIRE(ready(fb));
  auto order = store.order();
  BOOST_REQUIRE(order.size() >= 3u);
  BOOST_TEST(order[0] == "a");
  BOOST_TEST(order.back() == "  b");
  storage_status got;
  BOOST_TEST(!store.get("x", got).has_value());
  // Then writers write themselves again.
  BOOST_TEST(write_now(c, one("c"), st));
  BOOST_TEST(st.ok());
}

BOOST_AUTO_TEST_CASE(side_by_side_writers_stop_at_stop) {
  gated_store store;
  group_committer c{store, 4096, true, {}, true};
  c.stop();
  storage_status st;
  BOOST_TEST(!write_now(c, one("a"), st));
  storage_status got;
  BOOST_TEST(!store.get("a", got).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
