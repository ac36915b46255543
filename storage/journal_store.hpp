#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sched.h>

#include "storage/kv_store.hpp"
#include "storage/pending_table.hpp"

namespace rapi {

struct journal_options {
  /// Bytes of the journal's ring (its file in the data folder is 4 KiB
  /// larger and allocated in full when opened). A batch larger than a
  /// quarter of it is written to the inner store directly.
  std::uint64_t capacity_bytes = 64ULL << 20;
  /// How often what was journaled is folded into the inner store (sooner
  /// when half the ring is in use, or when a scan needs it).
  std::chrono::milliseconds fold_interval{250};
  /// A fold writes into the inner store this many bytes of keys and values
  /// at a time (the last write syncs); the folding thread sleeps between
  /// them until the ring is half full or a thread waits for the fold, so
  /// that the CPU it runs on switches to other work within about a tenth
  /// of a millisecond (journal_store.cpp says why).
  std::size_t fold_slice_bytes = 16 * 1024;
  /// Periodic folds run at idle priority (SCHED_IDLE) and a fold asked for
  /// because the ring is half full at the thread's usual one: but only
  /// where the process may switch the thread back
  /// (`idle_priority_is_reversible`). Otherwise, or when false, every fold
  /// runs at the usual priority.
  bool idle_folds = true;
  /// Key prefixes whose keys the journal also lists as they are written
  /// (the recordings' indexes, the cluster's outbox): a scan within one of
  /// them merges what is pending into the inner store's scan, where a scan
  /// elsewhere first folds everything pending into the inner store (a
  /// whole fold's work, tens of milliseconds on a busy server, for one
  /// page of a recordings query).
  std::vector<std::string> listed_prefixes;
};

/// Whether a thread of this process may go to idle priority (SCHED_IDLE)
/// and come back to its usual policy. Coming back raises the thread's
/// priority, which needs CAP_SYS_NICE or an RLIMIT_NICE that allows nice 0
/// (systemd: `LimitNICE=+0`); a service's own user has neither by default,
/// and a thread it sent to idle priority would stay there. Tried on a
/// thread of its own, which then ends.
bool idle_priority_is_reversible();

/// What opening a journal found in it and wrote to the inner store.
struct journal_replay {
  std::uint64_t records = 0; ///< batches found and replayed
  std::uint64_t keys = 0;    ///< distinct keys they wrote
  /// Set when the records stop at one that is damaged (not at the usual
  /// end: a record never written); what follows it was not replayed.
  std::string damaged;
};

/// A write-behind journal in front of the inner store (RocksDB).
///
/// A write is acknowledged once its batch is copied into a memory-mapped
/// ring file in the data folder: the page cache holds it from then on, so
/// it survives the process being killed (`kill -9`) like a RocksDB WAL
/// append without fsync does, without a system call. The batch's keys also
/// go into an in-memory map (where in the ring the newest value of each
/// is), which a thread of the journal writes into the inner store every
/// `fold_interval` (in key order, in slices of `fold_slice_bytes`, fsynced
/// with the last): a key changed many times meanwhile (a busy agent's live
/// state, a running recording) is written to RocksDB once. The ring space
/// is reused once that fold is on disk.
///
/// Opening the journal replays every record not yet folded into the inner
/// store, in order, before anything else reads it. Reads see every
/// acknowledged write: `get` looks in the map first; `scan` merges what is
/// pending into the inner store's scan for a listed prefix
/// (`journal_options::listed_prefixes`) and folds it first otherwise.
///
/// Not for `storage.sync`: an fsync per write goes to RocksDB directly.
class journal_store final : public kv_store {
public:
  /// Opens (or creates) `dir`/journal, replays what it holds into `inner`
  /// (reported in `replayed`) and starts the folding thread; nullptr with a
  /// sentence in `error` when it cannot.
  static std::unique_ptr<journal_store>
  open(const std::string& dir, kv_store& inner, const journal_options& options,
       journal_replay& replayed, std::string& error);

  /// Folds what is pending and leaves the journal empty.
  ~journal_store() override;

  journal_store(const journal_store&) = delete;
  journal_store& operator=(const journal_store&) = delete;

  storage_status write(const write_batch& batch) override;
  storage_status write_or_refuse(const write_batch& batch) override;
  std::optional<std::string> get(std::string_view key,
                                 storage_status& status) override;
  storage_status
  scan(std::string_view prefix, std::string_view from,
       const std::function<bool(std::string_view, std::string_view)>& fn)
    override;
  std::uint64_t size_bytes() override;
  std::string refusal(const write_batch& batch) override {
    return inner_.refusal(batch);
  }

  /// Writes everything journaled so far into the inner store now.
  storage_status fold();

  struct counts {
    std::uint64_t records = 0;      ///< batches journaled
    std::uint64_t folds = 0;        ///< writes into the inner store
    std::uint64_t folded_keys = 0;  ///< keys those writes held
    std::uint64_t direct = 0;       ///< batches too large for the ring
    std::uint64_t ring_waits = 0;   ///< writes that waited for ring space
  };
  counts written() const;

  /// Whether periodic folds run at idle priority (`journal_options::
  /// idle_folds`, where the process may switch the thread back).
  bool folds_at_idle_priority() const { return idle_folds_; }

private:
  struct mapping;
  journal_store(kv_store& inner, std::unique_ptr<mapping> map,
                const journal_options& options, std::uint64_t head,
                std::uint64_t seq);

  storage_status append(const write_batch& batch, bool refuse);
  /// Whether `key` starts with a listed prefix.
  bool listed(std::string_view key) const;
  /// `inner_.scan`, with `over` (pending keys in order: a value, or
  /// nullopt for an erase) merged in, newer than the store's.
  storage_status merged_scan(
    const std::map<std::string, std::optional<std::string>>& over,
    std::string_view prefix, std::string_view from,
    const std::function<bool(std::string_view, std::string_view)>& fn);
  /// Under `fold_mtx_`. Writes what is pending into the inner store;
  /// `sync`: fsynced, after which the ring space of every record written
  /// so far is freed (an unsynced fold frees none). `pause`: sleeps
  /// between the slices of the write until a writer asks for a fold or
  /// another thread waits for it (the folding thread; see
  /// `fold_slice_bytes`).
  storage_status fold_locked(bool sync, bool pause = false);
  /// `fold_mtx_`, for any thread but the folding thread (which stops
  /// pausing between slices while one waits).
  std::unique_lock<std::mutex> lock_folds();
  /// The folding thread only: to idle priority or back to its usual one
  /// (a no-op without `idle_folds_` or when already there).
  void fold_priority(bool idle);
  void run();

  /// Each key's newest value, in the ring: nothing is copied per write
  /// but the key, when it is short (pending_table.hpp).
  using pending_map = pending_table;

  kv_store& inner_;
  std::unique_ptr<mapping> map_;
  const journal_options options_;
  const bool idle_folds_;

  mutable std::mutex mtx_;      ///< the ring's head and tail, the maps
  std::condition_variable space_; ///< a fold freed ring space
  std::condition_variable wake_;  ///< the folding thread: stop, or fold now
  std::uint64_t head_;            ///< logical offset of the next record
  std::uint64_t tail_;            ///< logical offset of the first unfolded
  std::uint64_t seq_;             ///< sequence number of the next record
  pending_map pending_;           ///< journaled, not yet being folded
  pending_map folding_;           ///< being written by a fold
  /// The keys of `pending_` and `folding_` under a listed prefix (views
  /// into the ring, each once).
  std::vector<std::string_view> pending_listed_;
  std::vector<std::string_view> folding_listed_;
  std::uint64_t folding_end_ = 0; ///< head and seq when `folding_` was taken
  std::uint64_t folding_seq_ = 0;
  std::uint64_t written_end_ = 0; ///< records before it are in the store
  std::uint64_t slot_writes_ = 0; ///< header slots are written in turn
  std::string fold_error_;        ///< the last fold's failure, if it failed
  bool fold_asked_ = false;
  bool stopping_ = false;
  counts counts_;

  std::mutex fold_mtx_; ///< one fold at a time
  /// Threads other than the folding thread waiting for `fold_mtx_`.
  std::atomic<int> fold_waiters_{0};
  /// The folding thread's own: its policy before it went idle, and whether
  /// it is at idle priority now.
  int usual_policy_ = SCHED_OTHER;
  bool fold_idle_now_ = false;
  std::thread thread_;
};

} // namespace rapi
