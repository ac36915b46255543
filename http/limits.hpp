#pragma once

#include <atomic>
#include <cstdint>

namespace rapi {

/// Requests refused because they went over a limit (for the metrics).
struct limit_counters {
  std::atomic<std::uint64_t> body{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> metadata{0};
  std::atomic<std::uint64_t> bulk{0};
};

} // namespace rapi
