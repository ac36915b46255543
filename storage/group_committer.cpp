#include "storage/group_committer.hpp"

#include <vector>

namespace rapi {

group_committer::group_committer(kv_store& store, std::size_t max_group,
                                 bool inline_writes)
  : store_(store), max_group_(max_group), inline_writes_(inline_writes) {
  thread_ = std::thread([this] { run(); });
}

group_committer::~group_committer() {
  stop();
}

void group_committer::submit(write_batch batch, callback done) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_) {
      done(storage_status{"the store is shutting down"});
      return;
    }
    queue_.emplace_back(std::move(batch), std::move(done));
  }
  cv_.notify_one();
}

bool group_committer::try_write_now(const write_batch& batch,
                                    storage_status& status) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!inline_writes_ || stopping_ || writing_ || !queue_.empty())
      return false;
    writing_ = true;
    ++groups_;
    ++batches_;
    ++inline_;
  }
  status = store_.write(batch);
  bool queued;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    writing_ = false;
    queued = !queue_.empty() || stopping_;
  }
  if (queued) // the thread waited for this write
    cv_.notify_one();
  return true;
}

void group_committer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

std::uint64_t group_committer::groups() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return groups_;
}

std::uint64_t group_committer::batches() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return batches_;
}

std::uint64_t group_committer::inline_writes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return inline_;
}

void group_committer::run() {
  std::vector<std::pair<write_batch, callback>> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] {
        return !writing_ && (stopping_ || !queue_.empty());
      });
      if (queue_.empty())
        return; // stopping, nothing left
      while (!queue_.empty() && group.size() < max_group_) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++groups_;
      batches_ += group.size();
      writing_ = true;
    }
    write_batch merged;
    std::size_t ops = 0;
    for (auto& [b, _] : group)
      ops += b.ops.size();
    merged.ops.reserve(ops);
    for (auto& [b, _] : group)
      for (auto& op : b.ops)
        merged.ops.push_back(std::move(op));
    auto st = store_.write(merged);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      writing_ = false;
    }
    for (auto& [_, done] : group)
      done(st);
    group.clear();
  }
}

} // namespace rapi
