#include "common/io_lanes.hpp"

#include <string>
#include <thread>

#include <pthread.h>
#include <sched.h>

#include <asio/defer.hpp>
#include <asio/post.hpp>

namespace rapi {

namespace {

/// The lanes and lane the calling thread runs (set on the lane's thread).
thread_local const io_lanes* my_lanes = nullptr;
thread_local asio::io_context* my_lane = nullptr;
thread_local std::size_t my_index = 0;

} // namespace

io_lanes::io_lanes(std::size_t lanes) {
  if (lanes == 0)
    lanes = 1;
  for (std::size_t i = 0; i < lanes; ++i) {
    auto l = std::make_unique<lane>();
    l->work = std::make_unique<
      asio::executor_work_guard<asio::io_context::executor_type>>(
      l->ioc.get_executor());
    lanes_.push_back(std::move(l));
  }
}

io_lanes::~io_lanes() {
  stop();
  // Every lane's handlers are abandoned before any lane's services go: a
  // connection that lives on one lane keeps a timer of another (RESTinio's
  // timers all run on the first lane), and abandoning the connection's
  // last handler on its lane destroys that timer, whose service must still
  // be there (ASan: heap-use-after-free at exit, with a connection left
  // open, when lane 0's context was destroyed first).
  for (auto& l : lanes_)
    l->ioc.shutdown();
}

asio::io_context* io_lanes::mine() {
  return my_lanes == this ? my_lane : nullptr;
}

std::size_t io_lanes::mine_index() const {
  return my_lanes == this ? my_index : lanes_.size();
}

asio::io_context& io_lanes::here() {
  if (auto* m = mine())
    return *m;
  return lanes_[next_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()]
    ->ioc;
}

void io_lanes::start(bool pin) {
  if (!threads_.empty())
    return;
  for (std::size_t i = 0; i < lanes_.size(); ++i)
    threads_.emplace_back([this, i, ioc = &lanes_[i]->ioc] {
      const auto name = "rapi-lane-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      my_lanes = this;
      my_lane = ioc;
      my_index = i;
      ioc->run();
      my_lanes = nullptr;
      my_lane = nullptr;
    });
  // Named from here too: once `start` returns (and the server says it is
  // ready) each lane has its name, however late its thread first runs.
  for (std::size_t i = 0; i < threads_.size(); ++i)
    pthread_setname_np(threads_[i].native_handle(),
                       ("rapi-lane-" + std::to_string(i)).c_str());
  if (!pin)
    return;
  // Pinned from here (a lane may have run a job or two unpinned): all of
  // them or, if one cannot be, none.
  const auto allowed = allowed_cpus();
  auto cpus = lane_cpus(allowed, lanes_.size());
  auto pin_to = [this](std::size_t i, const std::vector<int>& on) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : on)
      CPU_SET(c, &set);
    return pthread_setaffinity_np(threads_[i].native_handle(), sizeof set,
                                  &set)
           == 0;
  };
  for (std::size_t i = 0; i < cpus.size(); ++i)
    if (!pin_to(i, {cpus[i]})) {
      for (std::size_t j = 0; j <= i; ++j)
        pin_to(j, allowed);
      cpus.clear();
    }
  pinned_ = std::move(cpus);
}

void io_lanes::stop() {
  stopped_ = true;
  for (auto& l : lanes_) {
    l->work.reset();
    l->ioc.stop();
  }
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set))
      cpus.push_back(c);
  return cpus;
}

std::vector<int> lane_cpus(const std::vector<int>& allowed, std::size_t lanes) {
  if (lanes == 0 || allowed.size() < lanes)
    return {};
  return {allowed.begin(), allowed.begin() + static_cast<long>(lanes)};
}

void defer_on(io_lanes& lanes, std::function<void()> job) {
  if (auto* m = lanes.mine())
    asio::defer(*m, std::move(job));
  else
    asio::post(lanes.here(), std::move(job));
}

} // namespace rapi
