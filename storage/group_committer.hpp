#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/kv_store.hpp"

namespace rapi {

/// Group commit: every agent actor's write goes through it.
///
/// A writer blocked on its own write (and, with `storage.sync`, its own
/// fsync) caps throughput and stalls its actor thread, with every other
/// agent on it, whenever RocksDB stalls. Agent actors instead hand their
/// batch to this committer and go on; its one thread takes every batch
/// queued meanwhile, writes them as one atomic batch (one WAL append, one
/// fsync in sync mode) and calls each writer back. Each writer's batch
/// stays atomic because the merged batch is.
///
/// When nothing is queued and nothing is being written, a writer may write
/// its batch itself (`try_write_now`): at a light load most groups would
/// hold one batch, and handing it to the committer's thread and back costs
/// two wake-ups for nothing. Batches handed in meanwhile wait for that
/// write, and the writer then writes one group of them too (a writer that
/// finds someone writing does not wake the thread). Writes still happen
/// one at a time, in the order the batches were handed in.
class group_committer {
public:
  using callback = std::function<void(const storage_status&)>;

  /// `inline_writes` false: every batch goes through the thread (with
  /// fsync on every write, a writer should not wait for one itself).
  explicit group_committer(kv_store& store, std::size_t max_group = 4096,
                           bool inline_writes = true);
  ~group_committer();

  group_committer(const group_committer&) = delete;
  group_committer& operator=(const group_committer&) = delete;

  /// Queues `batch`; `done` runs on the committer thread once it is durable
  /// (or failed).
  void submit(write_batch batch, callback done);

  /// If nothing is queued or being written: writes `batch` on the calling
  /// thread, calls `done` there, then writes one group of what was handed
  /// in meanwhile (their callbacks run on this thread too); true. Otherwise,
  /// or when the store holds writes back (`kv_store::write_or_refuse`: the
  /// calling thread does not wait out a write stall), false, nothing
  /// written, and the caller submits the batch.
  bool try_write_now(const write_batch& batch, const callback& done);

  /// Writes what is queued, then stops the thread.
  void stop();

  std::uint64_t groups() const;
  std::uint64_t batches() const;
  /// Of `groups()`, those a writer wrote itself.
  std::uint64_t inline_writes() const;

private:
  struct queued {
    write_batch batch;
    callback done;
  };

  void run();
  /// Ends an inline writer's turn: wakes the thread if batches are queued
  /// (a writer that found this one writing left them there) or it stops.
  void end_inline_write();
  /// Moves up to `max_group_` queued batches into `group` (under `mtx_`);
  /// false when none was queued.
  bool take_group(std::vector<queued>& group);
  /// One RocksDB write for the whole group.
  storage_status write_group(std::vector<queued>& group);
  /// Calls the group's callbacks with `status` and empties it.
  void finish_group(std::vector<queued>& group,
                    const storage_status& status);

  kv_store& store_;
  const std::size_t max_group_;
  const bool inline_writes_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<queued> queue_;
  bool stopping_ = false;
  bool writing_ = false; ///< a group or an inline batch is being written
  std::uint64_t inline_ = 0;
  std::uint64_t groups_ = 0;
  std::uint64_t batches_ = 0;
  std::thread thread_;
};

} // namespace rapi
