#include "storage/group_committer.hpp"

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
  bool wake;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_) {
      done(storage_status{"the store is shutting down"});
      return;
    }
    queue_.push_back({std::move(batch), std::move(done)});
    // Whoever is writing takes it next; only an idle committer is woken.
    wake = !writing_;
  }
  if (wake)
    cv_.notify_one();
}

bool group_committer::try_write_now(const write_batch& batch,
                                    const callback& done) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!inline_writes_ || stopping_ || writing_ || !queue_.empty())
      return false;
    writing_ = true;
  }
  auto status = store_.write_or_refuse(batch);
  if (status.stalled) {
    // The store holds writes back: the caller's thread must not wait that
    // out. Nothing was written; the caller hands the batch to the thread.
    end_inline_write();
    return false;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ++groups_;
    ++batches_;
    ++inline_;
  }
  done(status);
  // What was handed in meanwhile waited for this write: one group of it is
  // written here too rather than waking the thread for it.
  std::vector<queued> group;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!stopping_ && take_group(group))
      ++inline_;
  }
  storage_status group_status;
  if (!group.empty())
    group_status = write_group(group);
  end_inline_write();
  if (!group.empty())
    finish_group(group, group_status);
  return true;
}

void group_committer::end_inline_write() {
  bool wake;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    writing_ = false;
    wake = !queue_.empty() || stopping_;
  }
  if (wake) // batches came meanwhile (or stop() waits): the thread's turn
    cv_.notify_one();
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

bool group_committer::take_group(std::vector<queued>& group) {
  while (!queue_.empty() && group.size() < max_group_) {
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (group.empty())
    return false;
  ++groups_;
  batches_ += group.size();
  return true;
}

storage_status group_committer::write_group(std::vector<queued>& group) {
  write_batch merged;
  std::size_t ops = 0;
  for (auto& q : group)
    ops += q.batch.ops.size();
  merged.ops.reserve(ops);
  for (auto& q : group)
    for (auto& op : q.batch.ops)
      merged.ops.push_back(std::move(op));
  return store_.write(merged);
}

void group_committer::finish_group(std::vector<queued>& group,
                                   const storage_status& status) {
  for (auto& q : group)
    q.done(status);
  group.clear();
}

void group_committer::run() {
  std::vector<queued> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] {
        return !writing_ && (stopping_ || !queue_.empty());
      });
      if (!take_group(group))
        return; // stopping, nothing left
      writing_ = true;
    }
    auto status = write_group(group);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      writing_ = false;
    }
    finish_group(group, status);
  }
}

} // namespace rapi
