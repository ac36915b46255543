#pragma once

#include <atomic>
#include <map>
#include <mutex>

#include "storage/kv_store.hpp"

namespace rapi {

/// An in-memory kv_store for unit tests; `fail_writes` simulates a full disk
/// (atomic: a test flips it while a journal's folding thread writes).
class memory_store final : public kv_store {
public:
  storage_status write(const write_batch& batch) override;
  std::optional<std::string> get(std::string_view key,
                                 storage_status& status) override;
  storage_status
  scan(std::string_view prefix, std::string_view from,
       const std::function<bool(std::string_view, std::string_view)>& fn)
    override;

  std::atomic<bool> fail_writes{false};
  std::size_t size() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, std::string, std::less<>> data_;
};

} // namespace rapi
