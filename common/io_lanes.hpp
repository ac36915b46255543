#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

namespace rapi {

/// The listener threads' event loops: one asio io_context per thread (a
/// "lane"), each run by exactly one thread.
///
/// Why not one io_context run by every thread: then every hand-off between
/// two pieces of work (an actor queued behind the request that woke it, a
/// response's write) goes through one queue the threads share: a mutex,
/// a condition variable, and often a wake-up of the other thread. RESTinio
/// also wraps each connection in a strand there. With a lane per thread,
/// work queued from a lane's own thread stays on it without a lock being
/// contended or another thread woken, and connections need no strand (all
/// of a connection's work runs on its lane's one thread).
///
/// Work queued from any other thread is still safe: it is posted to a lane,
/// whose thread then runs it.
class io_lanes {
public:
  explicit io_lanes(std::size_t lanes);
  ~io_lanes();

  io_lanes(const io_lanes&) = delete;
  io_lanes& operator=(const io_lanes&) = delete;

  std::size_t size() const { return lanes_.size(); }
  asio::io_context& at(std::size_t i) { return lanes_[i]->ioc; }

  /// The lane the calling thread runs, or null when it runs none of these.
  asio::io_context* mine();
  /// Its index, or size() when it runs none of these.
  std::size_t mine_index() const;
  /// The calling thread's lane, or else the next one in turn.
  asio::io_context& here();

  /// Starts one thread per lane, named `rapi-lane-<i>`. With `pin`, lane
  /// i's thread runs only on the CPU `lane_cpus` gives it (see there; all
  /// lanes or, if one cannot be pinned, none);
  /// `pinned()` then names those CPUs (empty when not pinned). A thread a
  /// pinned lane's thread starts inherits its one CPU: start threads
  /// elsewhere (the server starts its own from the main thread).
  void start(bool pin = false);
  const std::vector<int>& pinned() const { return pinned_; }
  /// Stops every lane and joins its thread (idempotent).
  void stop();
  /// True once stop() has begun: work queued from then on would never run.
  bool stopped() const { return stopped_.load(); }

private:
  /// An io_context whose services can be shut down before any lane's
  /// context is destroyed (see ~io_lanes).
  struct context : asio::io_context {
    using asio::io_context::io_context;
    using asio::execution_context::shutdown;
  };
  struct lane {
    context ioc{1};
    std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>
      work;
  };
  std::vector<std::unique_ptr<lane>> lanes_;
  std::vector<std::thread> threads_;
  std::vector<int> pinned_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> next_{0};
};

/// The CPUs the calling thread may run on (its affinity mask), ascending.
std::vector<int> allowed_cpus();

/// A CPU for each of `lanes` threads: the first `lanes` of `allowed`, or
/// none when there are fewer CPUs than lanes.
///
/// Why pin: a lane's work waits for its one thread, which no other thread
/// can take over. When the scheduler puts two lanes on one CPU (it does, on
/// a machine as busy as it has CPUs, e.g. with a client on the same
/// machine), each waits for the other's time slices, and so do the
/// requests in its sockets. Lanes pinned one per CPU never share a CPU with
/// each other; other threads still go wherever there is room.
std::vector<int> lane_cpus(const std::vector<int>& allowed, std::size_t lanes);

/// Queues `job` on `lanes` the way actors are queued: from a lane's own
/// thread it runs on that thread after its current work, waking no other
/// thread; from elsewhere it is posted to a lane in turn.
void defer_on(io_lanes& lanes, std::function<void()> job);

} // namespace rapi
