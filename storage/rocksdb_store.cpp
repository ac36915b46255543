#include "storage/kv_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

namespace rapi {

namespace {

class rocksdb_store final : public kv_store {
public:
  rocksdb_store(std::unique_ptr<rocksdb::DB> db, bool sync)
    : db_(std::move(db)) {
    write_options_.sync = sync;
  }

  ~rocksdb_store() override {
    if (db_) {
      db_->FlushWAL(true);
      db_->Close();
    }
  }

  storage_status write(const write_batch& batch) override {
    rocksdb::WriteBatch wb;
    for (auto& op : batch.ops) {
      auto st = op.erase ? wb.Delete(op.key) : wb.Put(op.key, op.value);
      if (!st.ok())
        return {st.ToString()};
    }
    auto st = db_->Write(write_options_, &wb);
    if (!st.ok())
      return {st.ToString()};
    return {};
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

private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
};

} // namespace

std::unique_ptr<kv_store> open_rocksdb(const std::string& dir,
                                       const rocksdb_options& options,
                                       std::string& error) {
  rocksdb::Options opts;
  opts.create_if_missing = options.create_if_missing;
  opts.paranoid_checks = true;
  // Concurrent writers from many agent actors share one WAL write (and one
  // fsync in sync mode): RocksDB's write groups are the group commit.
  opts.enable_pipelined_write = true;
  opts.IncreaseParallelism(2);
  opts.max_open_files = 512;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok()) {
    error = "cannot open the RocksDB database in '" + dir
            + "': " + st.ToString();
    return nullptr;
  }
  return std::make_unique<rocksdb_store>(std::unique_ptr<rocksdb::DB>(raw),
                                         options.sync);
}

} // namespace rapi
