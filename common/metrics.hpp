#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace rapi {

/// A Prometheus histogram of durations, lock-free to observe.
class histogram {
public:
  /// Upper bounds in seconds (the last bucket is +Inf).
  static constexpr std::array<double, 14> bounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

  void observe_us(std::int64_t micros);

  /// Appends the `_bucket`, `_sum` and `_count` samples of `name` with
  /// `labels` (`a="b",c="d"` or empty).
  void append(std::string& out, std::string_view name,
              std::string_view labels) const;

  std::uint64_t count() const { return count_.load(); }

private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

/// Appends a `# HELP` and `# TYPE` header.
void append_metric_header(std::string& out, std::string_view name,
                          std::string_view type, std::string_view help);

/// Appends one sample line.
void append_sample(std::string& out, std::string_view name,
                   std::string_view labels, double value);

/// Escapes a label value.
std::string label_value(std::string_view v);

} // namespace rapi
