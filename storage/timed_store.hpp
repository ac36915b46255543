#pragma once

#include <atomic>
#include <chrono>

#include "common/metrics.hpp"
#include "storage/kv_store.hpp"

namespace rapi {

/// A kv_store decorator that measures writes (latency histogram, errors)
/// for the metrics endpoint; everything else passes through.
class timed_store final : public kv_store {
public:
  explicit timed_store(kv_store& inner) : inner_(inner) {}

  storage_status write(const write_batch& batch) override {
    auto t0 = std::chrono::steady_clock::now();
    auto st = inner_.write(batch);
    latency.observe_us(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
    if (!st.ok())
      ++errors;
    return st;
  }
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

  histogram latency;
  std::atomic<std::uint64_t> errors{0};

private:
  kv_store& inner_;
};

} // namespace rapi
