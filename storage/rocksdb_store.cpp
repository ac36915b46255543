#include "storage/kv_store.hpp"

#include <atomic>
#include <chrono>
#include <limits>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

namespace rapi {

namespace {

/// Free bytes on the file system holding `dir`, or -1 when unknown.
std::int64_t free_bytes(const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0)
    return -1;
  return static_cast<std::int64_t>(st.f_bavail)
         * static_cast<std::int64_t>(st.f_frsize);
}

std::string mib(std::int64_t bytes) {
  return std::to_string(bytes / (1024 * 1024)) + " MiB";
}

class rocksdb_store final : public kv_store {
public:
  rocksdb_store(std::unique_ptr<rocksdb::DB> db, std::string dir,
                const rocksdb_options& options)
    : db_(std::move(db)), dir_(std::move(dir)),
      min_free_(static_cast<std::int64_t>(options.min_free_bytes)) {
    write_options_.sync = options.sync;
    refuse_options_ = write_options_;
    refuse_options_.no_slowdown = true;
  }

  ~rocksdb_store() override {
    if (db_) {
      if (!read_only_)
        db_->FlushWAL(true);
      db_->Close();
    }
  }

  storage_status write(const write_batch& batch) override {
    return write_with(batch, write_options_);
  }

  storage_status write_or_refuse(const write_batch& batch) override {
    return write_with(batch, refuse_options_);
  }

  storage_status sync() override {
    if (read_only_)
      return {};
    auto st = db_->SyncWAL();
    if (!st.ok())
      return {st.ToString()};
    return {};
  }

  storage_status write_views(const write_view& batch) override {
    if (!batch.sync)
      return write_with(batch, write_options_);
    auto synced = write_options_;
    synced.sync = true;
    return write_with(batch, synced);
  }

  std::string refusal(const write_batch& batch) override {
    if (read_only_)
      return "the store is open read-only";
    return check_space(batch);
  }

  std::optional<std::string> get(std::string_view key,
                                  storage_status& status) override {
    std::string value;
    auto st = db_->Get(rocksdb::ReadOptions{},
                       rocksdb::Slice(key.data(), key.size()), &value);
    if (st.IsNotFound())
      return std::nullopt;
    if (!st.ok()) {
      status.message = st.ToString();
      return std::nullopt;
    }
    return value;
  }

  storage_status
  scan(std::string_view prefix, std::string_view from,
       const std::function<bool(std::string_view, std::string_view)>& fn)
    override {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    auto start = from.empty() ? prefix : from;
    for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid();
         it->Next()) {
      auto k = it->key();
      std::string_view key(k.data(), k.size());
      if (key.substr(0, prefix.size()) != prefix)
        break;
      auto v = it->value();
      if (!fn(key, std::string_view(v.data(), v.size())))
        break;
    }
    if (!it->status().ok())
      return {it->status().ToString()};
    return {};
  }

  std::uint64_t size_bytes() override {
    std::uint64_t sst = 0, mem = 0;
    db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    return sst + mem;
  }

private:
  /// Refuses a write that would take the disk below the reserve. The free
  /// space is re-read at most every 100 ms and debited per write between.
  template <class Batch>
  std::string check_space(const Batch& batch) {
    if (min_free_ <= 0)
      return {};
    // WAL and memtable growth plus later flushes: count the batch twice.
    std::int64_t need = 0;
    for (auto& op : batch.ops)
      need += 2 * static_cast<std::int64_t>(op.key.size() + op.value.size()
                                            + 16);
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto left = free_.fetch_sub(need) - need;
    if (now - checked_at_.load() < 100'000'000 && left >= min_free_)
      return {};
    // Stale or short: read the real figure.
    checked_at_.store(now);
    auto actual = free_bytes(dir_);
    if (actual < 0) { // unknown: do not block writes on a failed statvfs
      free_.store(std::numeric_limits<std::int64_t>::max() / 2);
      return {};
    }
    free_.store(actual - need);
    if (actual - need >= min_free_)
      return {};
    return "the disk holding " + dir_ + " is nearly full (" + mib(actual)
           + " free, storage.min_free_bytes is " + mib(min_free_)
           + "); writes are refused until space is freed";
  }

  /// Encodes `batch` and writes it with `wo` (a write `no_slowdown` turns
  /// away for a stall comes back `stalled`).
  template <class Batch>
  storage_status write_with(const Batch& batch,
                            const rocksdb::WriteOptions& wo) {
    if (read_only_)
      return {"the store is open read-only"};
    if (auto refusal = check_space(batch); !refusal.empty())
      return {refusal};
    // One allocation for the batch's encoding (a group of ~10 requests'
    // changes is ~25 KB; growing it by doubling copied it over and over).
    std::size_t bytes = 32;
    for (auto& op : batch.ops)
      bytes += op.key.size() + op.value.size() + 12;
    rocksdb::WriteBatch wb(bytes);
    for (auto& op : batch.ops) {
      rocksdb::Slice key(op.key.data(), op.key.size());
      auto st = op.erase ? wb.Delete(key)
                         : wb.Put(key, rocksdb::Slice(op.value.data(),
                                                      op.value.size()));
      if (!st.ok())
        return {st.ToString()};
    }
    auto st = db_->Write(wo, &wb);
    if (st.IsIncomplete() && wo.no_slowdown)
      return {"writes are held back: " + st.ToString(), true};
    if (!st.ok())
      return {st.ToString()};
    return {};
  }

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
  /// `write_options_` that refuse rather than wait out a write stall.
  rocksdb::WriteOptions refuse_options_;
  const std::string dir_;
  const std::int64_t min_free_;
  bool read_only_ = false;

public:
  void set_read_only() { read_only_ = true; }
  std::atomic<std::int64_t> free_{0};
  std::atomic<std::int64_t> checked_at_{0};
};

/// Where consecutive inserts of the same kind land next to each other, so
/// that the memtable can start from the last insert's position instead of
/// searching its skip list from the top (RocksDB's insert hints; the
/// memtable insert was the largest single cost of a write). `t:` keys
/// (newest first: every new recording goes to the front), one agent's
/// `g:` keys (the same), an agent's `a:` key and a recording's `r:` key
/// (rewritten by every change of it) get a hint each; the rest insert as
/// usual. A hint costs ~250 bytes per prefix and memtable: a few MB for the
/// agents and recordings that change while one memtable fills.
class insert_hint_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "rapi.InsertHintPrefix"; }

  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), prefix_length(key)};
  }

  bool InDomain(const rocksdb::Slice& key) const override {
    return prefix_length(key) > 0;
  }

private:
  static std::size_t prefix_length(const rocksdb::Slice& key) {
    if (key.size() < 2 || key[1] != ':')
      return 0;
    switch (key[0]) {
      case 't':
        return 2;
      case 'g': // g:<agent, 16 hex>:
        return key.size() >= 19 ? 19 : 0;
      case 'a': // a:<agent, 16 hex>
        return key.size() == 18 ? 18 : 0;
      case 'r': // r:<recording id>, rewritten by every change of it
        return key.size();
      default:
        return 0;
    }
  }
};

} // namespace

std::unique_ptr<kv_store> open_rocksdb_readonly(const std::string& dir,
                                                std::string& error) {
  error.clear();
  struct stat st;
  if (::stat((dir + "/CURRENT").c_str(), &st) != 0)
    return nullptr; // no database yet
  rocksdb::Options opts;
  opts.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(opts, dir, &raw);
  if (!s.ok()) {
    error = "cannot open the RocksDB database in '" + dir
            + "': " + s.ToString();
    return nullptr;
  }
  rocksdb_options ro;
  ro.min_free_bytes = 0;
  auto store = std::make_unique<rocksdb_store>(
    std::unique_ptr<rocksdb::DB>(raw), dir, ro);
  store->set_read_only();
  return store;
}

std::unique_ptr<kv_store> open_rocksdb(const std::string& dir,
                                       const rocksdb_options& options,
                                       std::string& error) {
  rocksdb::Options opts;
  opts.create_if_missing = options.create_if_missing;
  opts.paranoid_checks = true;
  // The agent actors' changes reach RocksDB through the group committer
  // (storage/group_committer.hpp), one write at a time, so RocksDB's own
  // write pipeline for concurrent writers would only add hand-offs, and
  // concurrent memtable inserts would disable the insert hints.
  opts.allow_concurrent_memtable_write = false;
  if (options.insert_hints)
    opts.memtable_insert_with_hint_prefix_extractor
      = std::make_shared<insert_hint_prefix>();
#ifdef RAPI_TSAN
  // TSan builds only (docs/hardening.md): no write groups of more than one
  // batch. A group's leader copies the other writers' batches with
  // libstdc++ called from librocksdb, neither instrumented, so TSan would
  // report those copies against our threads with every RocksDB frame lost.
  opts.max_write_batch_group_size_bytes = 1;
#endif
  opts.IncreaseParallelism(2);
  // Flushes (a 64 MiB memtable about every second under load) and
  // compactions come in bursts of 50-250 ms of CPU; at normal priority they
  // take a core from the threads that answer requests, and the answers of
  // those moments are the slow ones. At low priority they run in the idle
  // time a server below saturation has; a saturated one stalls writes until
  // they are done, as RocksDB would anyway. (Env::Default() is process-wide.)
  const auto background = options.idle_background
                            ? rocksdb::CpuPriority::kIdle
                            : rocksdb::CpuPriority::kLow;
  opts.env->LowerThreadPoolCPUPriority(rocksdb::Env::HIGH, background);
  opts.env->LowerThreadPoolCPUPriority(rocksdb::Env::LOW, background);
  opts.max_open_files = 512;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (options.min_free_bytes > 0) {
    auto avail = free_bytes(dir);
    if (avail >= 0
        && avail < static_cast<std::int64_t>(options.min_free_bytes)) {
      error = "the disk holding '" + dir + "' has " + mib(avail)
              + " free, less than storage.min_free_bytes ("
              + mib(static_cast<std::int64_t>(options.min_free_bytes))
              + "); free some space or lower the setting";
      return nullptr;
    }
  }
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok()) {
    error = "cannot open the RocksDB database in '" + dir
            + "': " + st.ToString();
    return nullptr;
  }
  return std::make_unique<rocksdb_store>(std::unique_ptr<rocksdb::DB>(raw),
                                         dir, options);
}

} // namespace rapi
