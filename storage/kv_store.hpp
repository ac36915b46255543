#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapi {

/// A set of puts and deletes applied atomically.
struct write_batch {
  struct op {
    bool erase = false;
    std::string key;
    std::string value;
  };
  std::vector<op> ops;

  void put(std::string key, std::string value) {
    ops.push_back({false, std::move(key), std::move(value)});
  }
  void erase(std::string key) {
    ops.push_back({true, std::move(key), {}});
  }
  bool empty() const { return ops.empty(); }
};

/// Puts and deletes like `write_batch`, whose keys and values live
/// elsewhere (the journal's ring) for as long as the write lasts.
struct write_view {
  struct op {
    bool erase = false;
    std::string_view key;
    std::string_view value;
  };
  std::vector<op> ops;
  /// On disk (fsynced) before the write returns, whatever the store's own
  /// setting: the journal frees ring space only once a fold is.
  bool sync = false;
};

/// Why a storage call failed; empty `message` means success.
struct storage_status {
  std::string message;
  /// Set by `write_or_refuse` alone: nothing was written because the store
  /// is holding writes back (a RocksDB write stall); `write` would wait.
  bool stalled = false;

  bool ok() const { return message.empty(); }
};

/// The seam between the server and its key-value store. The production
/// implementation is RocksDB (storage/rocksdb_store.hpp); unit tests may use
/// an in-memory fake.
class kv_store {
public:
  virtual ~kv_store() = default;

  /// Applies `batch` atomically; on success it is in the write-ahead log
  /// (and fsynced when the store was opened with `sync`).
  virtual storage_status write(const write_batch& batch) = 0;

  /// `write`, except that while the store holds writes back (RocksDB slows
  /// or stops writes when flushes and compactions fall behind) it writes
  /// nothing and says `stalled` at once instead of waiting: a thread that
  /// must stay responsive hands the batch to one that may wait.
  virtual storage_status write_or_refuse(const write_batch& batch) {
    return write(batch);
  }

  /// `write` of a batch of views; a store that can encode them without
  /// copying them first (and honour `sync`) overrides it.
  virtual storage_status write_views(const write_view& batch) {
    write_batch copy;
    copy.ops.reserve(batch.ops.size());
    for (auto& op : batch.ops)
      copy.ops.push_back(
        {op.erase, std::string(op.key), std::string(op.value)});
    return write(copy);
  }

  /// Makes every write so far durable on disk (RocksDB: its WAL synced).
  virtual storage_status sync() { return {}; }

  /// Why a write of `batch` would be refused now (the disk is nearly full),
  /// or empty: a store in front of this one asks before it takes a batch.
  virtual std::string refusal(const write_batch& batch) {
    (void)batch;
    return {};
  }

  /// Reads one key. `std::nullopt` when absent; `status` reports failures.
  virtual std::optional<std::string> get(std::string_view key,
                                         storage_status& status)
    = 0;

  /// Visits keys starting with `prefix` in order, from the first key that is
  /// greater than or equal to `from` (or the prefix when empty), while `fn`
  /// returns true.
  virtual storage_status
  scan(std::string_view prefix, std::string_view from,
       const std::function<bool(std::string_view, std::string_view)>& fn)
    = 0;

  /// Bytes the store takes on disk and in memory tables (metrics).
  virtual std::uint64_t size_bytes() { return 0; }
};

/// A kv_store that wraps another: reads pass through, the writes are the
/// wrapper's own.
class forwarding_store : public kv_store {
public:
  explicit forwarding_store(kv_store& inner) : inner_(inner) {}

  std::optional<std::string> get(std::string_view key,
                                 storage_status& status) override {
    return inner_.get(key, status);
  }
  storage_status
  scan(std::string_view prefix, std::string_view from,
       const std::function<bool(std::string_view, std::string_view)>& fn)
    override {
    return inner_.scan(prefix, from, fn);
  }
  std::uint64_t size_bytes() override { return inner_.size_bytes(); }
  std::string refusal(const write_batch& batch) override {
    return inner_.refusal(batch);
  }

protected:
  kv_store& inner_;
};

struct rocksdb_options {
  /// fsync the write-ahead log before acknowledging a write.
  bool sync = false;
  /// Create the database when the folder holds none.
  bool create_if_missing = true;
  /// Memtable insert hints (the `a:`, `r:`, `t:` and `g:` prefixes): they
  /// pay off when every request writes its own keys; the journal's folds
  /// write each key once, in key order, where the hints only cost.
  bool insert_hints = true;
  /// RocksDB's flushes and compactions at idle priority (SCHED_IDLE: they
  /// run only when a CPU would otherwise be idle) instead of nice 19. For
  /// the journal, whose folds are RocksDB's only writer; a server thread
  /// that writes RocksDB itself could wait on a lock such a thread holds.
  /// Process-wide (RocksDB's default environment).
  bool idle_background = false;
  /// Writes are refused (and start-up too) while the data folder's file
  /// system has less free space than this. RocksDB aborts the process on
  /// ENOSPC in some paths; refusing early keeps the server up and the data
  /// readable. 0 disables the check.
  std::uint64_t min_free_bytes = 128ULL * 1024 * 1024;
};

/// Opens an existing RocksDB database in `dir` read-only (nothing in the
/// folder is changed, not even write-ahead-log recovery), or returns
/// nullptr: with `error` empty when there is no database yet, otherwise
/// with the reason.
std::unique_ptr<kv_store> open_rocksdb_readonly(const std::string& dir,
                                                std::string& error);

/// Opens (or creates) the RocksDB database in `dir`. Returns nullptr with a
/// sentence in `error` when it cannot (locked, corrupt, not a database).
std::unique_ptr<kv_store> open_rocksdb(const std::string& dir,
                                       const rocksdb_options& options,
                                       std::string& error);

} // namespace rapi
