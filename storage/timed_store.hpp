#pragma once

#include <atomic>
#include <chrono>

#include "common/metrics.hpp"
#include "storage/kv_store.hpp"

namespace rapi {

/// A kv_store decorator that measures writes (latency histogram, errors)
/// for the metrics endpoint; everything else passes through.
class timed_store final : public forwarding_store {
public:
  explicit timed_store(kv_store& inner) : forwarding_store(inner) {}

  storage_status write(const write_batch& batch) override {
    return timed([&] { return inner_.write(batch); });
  }
  storage_status write_or_refuse(const write_batch& batch) override {
    return timed([&] { return inner_.write_or_refuse(batch); });
  }

  histogram latency;
  std::atomic<std::uint64_t> errors{0};

private:
  template <class Write>
  storage_status timed(Write&& w) {
    auto t0 = std::chrono::steady_clock::now();
    auto st = w();
    if (st.stalled) // nothing written: not a write to time or count
      return st;
    latency.observe_us(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
    if (!st.ok())
      ++errors;
    return st;
  }
};

} // namespace rapi
