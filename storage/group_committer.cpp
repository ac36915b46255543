#include "storage/group_committer.hpp"

namespace rapi {

group_committer::group_committer(kv_store& store, std::size_t max_group,
                                 bool inline_writes, poster post,
                                 bool side_by_side)
  : store_(store), max_group_(max_group), inline_writes_(inline_writes),
    side_by_side_(inline_writes && side_by_side),
    post_(inline_writes ? std::move(post) : poster{}) {
  thread_ = std::thread([this] { run(); });
}

group_committer::~group_committer() {
  stop();
}

void group_committer::submit(write_batch batch, callback done) {
  handoff next = handoff::none;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_) {
      done(storage_status{"the store is shutting down"});
      return;
    }
    queue_.push_back({std::move(batch), std::move(done)});
    // Whoever is writing, or the drain job on its way, takes it next; only
    // when nobody will is a drain job posted (or the thread woken).
    if (!writing_ && !drain_posted_)
      next = next_writer();
  }
  hand_over(next);
}

bool group_committer::try_write_now(const write_batch& batch,
                                    const callback& done) {
  if (side_by_side_)
    return write_beside(batch, done);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!inline_writes_ || stopping_ || writing_ || drain_posted_
        || thread_turn_ || !queue_.empty())
      return false;
    writing_ = true;
  }
  auto status = store_.write_or_refuse(batch);
  if (status.stalled) {
    // The store holds writes back: the caller's thread must not wait that
    // out. Nothing was written; the caller hands the batch in, and the
    // thread takes it (with whatever came meanwhile) and waits.
    give_thread_the_turn(true);
    return false;
  }
  // What was handed in meanwhile waited for this write: one group of it is
  // written here too, at once, rather than posting a job or waking the
  // thread. The turn ends with the writes, before any callback runs: a
  // callback answers its request (a socket write, several times longer
  // than the store write), and writers arriving meanwhile write
  // themselves instead of queueing behind it; a queued batch costs its
  // agent two thread hand-offs (the answer and the commit message), and a
  // turn held through the answers kept the next ones queueing too.
  std::vector<queued> group;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    count(1, &counts::by_writer);
    if (!stopping_)
      take_group(group);
  }
  const own_write own{done, status};
  write_turn(group, &counts::by_writer, &own);
  return true;
}

bool group_committer::write_beside(const write_batch& batch,
                                   const callback& done) {
  // No turn to take: while the thread does not hold the writes (after a
  // stall, or from stop on), a writer writes at once, whoever else is
  // writing. Batches queued for the thread go first only in that they
  // came first; no writer waits for them.
  if (held_.load(std::memory_order_acquire))
    return false;
  auto status = store_.write_or_refuse(batch);
  if (status.stalled) {
    // As in try_write_now: the thread takes it (and whatever follows
    // until its queue is empty) and waits the stall out.
    give_thread_the_turn(false);
    return false;
  }
  beside_.fetch_add(1, std::memory_order_relaxed);
  done(status);
  return true;
}

void group_committer::drain() {
  std::vector<queued> group;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!drain_posted_)
      return; // stopping: the thread took the queue over
    drain_posted_ = false;
    if (stopping_) {
      cv_.notify_one(); // the thread writes what is left
      return;
    }
    if (!take_group(group))
      return;
    writing_ = true;
  }
  write_turn(group, &counts::by_drain);
}

void group_committer::write_turn(std::vector<queued>& group,
                                 std::uint64_t counts::*by,
                                 const own_write* own) {
  storage_status status;
  if (!group.empty()) {
    auto merged = merge(group);
    status = store_.write_or_refuse(merged);
    if (status.stalled) {
      hand_to_thread(group, merged); // ends the turn
      if (own != nullptr)
        own->done(own->status);
      return;
    }
    std::lock_guard<std::mutex> guard{mtx_};
    count(batches_of(group), by);
  }
  end_inline_write();
  if (own != nullptr)
    own->done(own->status);
  finish_group(group, status);
}

void group_committer::end_inline_write() {
  handoff next = handoff::none;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    writing_ = false;
    if (stopping_)
      next = handoff::thread; // stop() waits for it to write what is left
    else if (!queue_.empty())
      // Writers that found this one writing left their batches queued.
      next = next_writer();
  }
  hand_over(next);
}

group_committer::handoff group_committer::next_writer() {
  if (post_ && !thread_turn_) {
    drain_posted_ = true;
    return handoff::drain;
  }
  return handoff::thread;
}

void group_committer::hand_over(handoff next) {
  if (next == handoff::drain)
    post_([this] { drain(); });
  else if (next == handoff::thread)
    cv_.notify_one();
}

void group_committer::hand_to_thread(std::vector<queued>& group,
                                     write_batch& merged) {
  const std::size_t batches = batches_of(group);
  std::vector<callback> dones;
  dones.reserve(group.size());
  for (auto& q : group)
    dones.push_back(std::move(q.done));
  group.clear();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // First again, as one batch: the merged one keeps every batch in it
    // atomic and in order.
    queue_.push_front({std::move(merged),
                       [dones = std::move(dones)](const storage_status& st) {
                         for (auto& d : dones)
                           d(st);
                       },
                       batches});
    give_thread_the_turn_locked(true);
  }
  cv_.notify_one();
}

void group_committer::give_thread_the_turn(bool end_turn) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    give_thread_the_turn_locked(end_turn);
  }
  cv_.notify_one();
}

void group_committer::give_thread_the_turn_locked(bool end_turn) {
  if (end_turn)
    writing_ = false;
  thread_turn_ = true;
  held_.store(true, std::memory_order_release);
}

void group_committer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    held_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

group_committer::counts group_committer::written() const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto c = counts_;
  const auto beside = beside_.load(std::memory_order_relaxed);
  c.groups += beside;
  c.batches += beside;
  c.by_writer += beside;
  return c;
}

bool group_committer::take_group(std::vector<queued>& group) {
  while (!queue_.empty() && group.size() < max_group_) {
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !group.empty();
}

write_batch group_committer::merge(std::vector<queued>& group) {
  write_batch merged;
  std::size_t ops = 0;
  for (auto& q : group)
    ops += q.batch.ops.size();
  merged.ops.reserve(ops);
  for (auto& q : group)
    for (auto& op : q.batch.ops)
      merged.ops.push_back(std::move(op));
  return merged;
}

std::size_t group_committer::batches_of(const std::vector<queued>& group) {
  std::size_t n = 0;
  for (auto& q : group)
    n += q.batches;
  return n;
}

void group_committer::count(std::size_t batches, std::uint64_t counts::*by) {
  ++counts_.groups;
  counts_.batches += batches;
  if (by != nullptr)
    ++(counts_.*by);
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
        return !writing_
               && (stopping_ || (!drain_posted_ && !queue_.empty()));
      });
      // At stop the thread takes over from a drain job not yet run.
      drain_posted_ = false;
      if (!take_group(group))
        return; // stopping, nothing left
      writing_ = true;
    }
    auto merged = merge(group);
    // The thread may wait a write stall out: no request waits on it.
    auto status = store_.write(merged);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      count(batches_of(group), nullptr);
      writing_ = false;
      // After a stall the thread writes until the queue is empty; then
      // writers write themselves again.
      if (queue_.empty()) {
        thread_turn_ = false;
        held_.store(stopping_, std::memory_order_release);
      }
    }
    finish_group(group, status);
  }
}

} // namespace rapi
