#pragma once

#include <atomic>
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
/// finds someone writing does not wake the thread), ending its turn before
/// any of the callbacks runs. Writes still happen one at a time, in the
/// order the batches were handed in.
///
/// In front of the journal (`side_by_side`) there is no turn to take: a
/// journal write is a copy into memory under the journal's own lock, with
/// nothing to share between writers, and waiting for another writer's
/// turn only queued batches for hand-offs (at 45k changes a second on two
/// listener threads, about a third of them). Writers then write at once,
/// each its own batch; the queue and the thread are left for what the
/// store holds back (a full journal) and for `submit`.
///
/// Given a `poster` (the server passes one that queues a job on the HTTP
/// listener threads, where the agent actors run), what is still queued
/// after a writer's turn is not left to the committer's thread either: a
/// drain job is posted, and writes it as one group on the listener thread
/// that runs it, between that thread's other work. Under load the listener
/// threads then take turns writing, and no write wakes a thread. The
/// committer's thread keeps what must not wait on a listener thread: a
/// write RocksDB holds back for a stall (the writer or drain job that is
/// turned away hands its group to the thread, which waits the stall out and
/// writes until the queue is empty), every write when `inline_writes` is
/// off, and what is left at `stop()`.
class group_committer {
public:
  using callback = std::function<void(const storage_status&)>;
  /// Runs a job later, not on the caller's stack.
  using poster = std::function<void(std::function<void()>)>;

  /// `inline_writes` false: every batch goes through the thread (with
  /// fsync on every write, a writer should not wait for one itself).
  /// `post` (used only with `inline_writes`): where drain jobs run. A job
  /// may run after `stop()` (it then does nothing) but must not run after
  /// the committer is destroyed; dropping it unrun is fine.
  /// `side_by_side` (with `inline_writes`): the store takes writers at the
  /// same time and gains nothing from groups (the journal: a write is a
  /// copy into memory under its own lock), and no batch needs another
  /// writer's written first (an agent has one write at a time), so
  /// `try_write_now` writes at once beside any other writer.
  explicit group_committer(kv_store& store, std::size_t max_group = 4096,
                           bool inline_writes = true, poster post = {},
                           bool side_by_side = false);
  ~group_committer();

  group_committer(const group_committer&) = delete;
  group_committer& operator=(const group_committer&) = delete;

  /// Queues `batch`; `done` runs once it is durable (or failed), on the
  /// thread that wrote it: a writer's, a drain job's or the committer's.
  void submit(write_batch batch, callback done);

  /// Side by side: unless the thread holds the writes (after a stall, or
  /// stopping), writes `batch` and calls `done` on the calling thread;
  /// true. Otherwise:
  /// If nothing is queued or being written: writes `batch` on the calling
  /// thread, then one group of what was handed in meanwhile, and calls
  /// `done` and then their callbacks there; true. Otherwise,
  /// or when the store holds writes back (`kv_store::write_or_refuse`: the
  /// calling thread does not wait out a write stall), false, nothing
  /// written, and the caller submits the batch.
  bool try_write_now(const write_batch& batch, const callback& done);

  /// Writes what is queued, then stops the thread.
  void stop();

  /// The writes so far, by who made them.
  struct counts {
    std::uint64_t groups = 0;    ///< RocksDB writes
    std::uint64_t batches = 0;   ///< the agents' batches they held
    std::uint64_t by_writer = 0; ///< groups a writer wrote itself
    std::uint64_t by_drain = 0;  ///< groups a drain job wrote
    /// Groups the committer's thread wrote.
    std::uint64_t by_thread() const { return groups - by_writer - by_drain; }
  };
  /// Read at once (one lock), so that the parts add up.
  counts written() const;

private:
  struct queued {
    write_batch batch;
    callback done;
    std::size_t batches = 1; ///< several once merged and handed back
  };

  /// Who writes queued batches that nobody is about to write.
  enum class handoff { none, drain, thread };

  void run();
  /// try_write_now, side by side.
  bool write_beside(const write_batch& batch, const callback& done);
  /// Under `mtx_`, with batches queued and nobody writing or about to:
  /// a drain job (marked posted), or the thread (without a poster, or
  /// after a stall).
  handoff next_writer();
  /// Posts the drain job or wakes the thread (outside `mtx_`).
  void hand_over(handoff next);
  /// A drain job: writes one group of what is queued, unless the thread
  /// took the queue over meanwhile (at stop).
  void drain();
  /// Ends a writer's or drain job's turn: what writers handed in meanwhile
  /// gets a drain job (or the thread, without a poster); at stop the
  /// thread takes it.
  void end_inline_write();
  /// After a write of `group` (merged into `merged`) was held back for a
  /// stall: it goes back to the front of the queue as one batch, and the
  /// thread writes until the queue is empty.
  void hand_to_thread(std::vector<queued>& group, write_batch& merged);
  /// After a stall: the thread writes until its queue is empty (and ends
  /// the caller's turn if `end_turn`); wakes it.
  void give_thread_the_turn(bool end_turn);
  /// The same under `mtx_`, without waking the thread.
  void give_thread_the_turn_locked(bool end_turn);
  /// Moves up to `max_group_` queued batches into `group` (under `mtx_`);
  /// false when none was queued.
  bool take_group(std::vector<queued>& group);
  /// The group's batches as one (moved out of the group).
  static write_batch merge(std::vector<queued>& group);
  /// A writer's own batch, already written: its callback and status.
  struct own_write {
    const callback& done;
    const storage_status& status;
  };
  /// After a writer's or drain job's turn took `group` (with `writing_`
  /// set): writes it and ends the turn, or, if RocksDB holds the write back
  /// for a stall, hands it to the thread. An empty group just ends the turn.
  /// Either way the turn ends before any callback runs; a writer's `own`
  /// callback runs first, then the group's.
  void write_turn(std::vector<queued>& group, std::uint64_t counts::*by,
                  const own_write* own = nullptr);
  /// The agents' batches in `group`.
  static std::size_t batches_of(const std::vector<queued>& group);
  /// Counts a group of `batches` written by `by` (the thread: null; under
  /// `mtx_`).
  void count(std::size_t batches, std::uint64_t counts::*by);
  /// Calls the group's callbacks with `status` and empties it.
  void finish_group(std::vector<queued>& group,
                    const storage_status& status);

  kv_store& store_;
  const std::size_t max_group_;
  const bool inline_writes_;
  const bool side_by_side_;
  const poster post_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<queued> queue_;
  bool stopping_ = false;
  bool writing_ = false;      ///< a group or an inline batch is being written
  bool drain_posted_ = false; ///< a drain job is on its way
  bool thread_turn_ = false;  ///< after a stall: the thread writes
  /// `thread_turn_ || stopping_`, read by side-by-side writers unlocked.
  std::atomic<bool> held_{false};
  /// Batches written side by side (each its own write).
  std::atomic<std::uint64_t> beside_{0};
  counts counts_;
  std::thread thread_;
};

} // namespace rapi
