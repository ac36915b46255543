#include "common/io_lanes.hpp"

#include <thread>

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

void io_lanes::start() {
  if (!threads_.empty())
    return;
  for (std::size_t i = 0; i < lanes_.size(); ++i)
    threads_.emplace_back([this, i, ioc = &lanes_[i]->ioc] {
      my_lanes = this;
      my_lane = ioc;
      my_index = i;
      ioc->run();
      my_lanes = nullptr;
      my_lane = nullptr;
    });
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

void defer_on(io_lanes& lanes, std::function<void()> job) {
  if (auto* m = lanes.mine())
    asio::defer(*m, std::move(job));
  else
    asio::post(lanes.here(), std::move(job));
}

} // namespace rapi
