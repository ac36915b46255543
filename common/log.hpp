#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace rapi {

enum class log_level : std::uint8_t { debug, info, warn, error, off };

std::optional<log_level> parse_log_level(std::string_view s);
const char* to_string(log_level l);

/// Structured logs: one JSON object per line on stdout.
///
/// Lines are queued and written by a thread of the logger's own in batches
/// (at most every 20 ms), so a request never waits on a write to the
/// terminal or a pipe. `flush` (and the destructor) write what is queued.
class logger {
public:
  explicit logger(log_level level = log_level::info);
  ~logger();

  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  bool enabled(log_level l) const { return l >= level_; }
  log_level level() const { return level_; }

  /// Queues `json_object` (a complete JSON object, no newline).
  void write(std::string json_object);
  /// The same, from a line the caller keeps (a thread's reused buffer).
  void write_line(std::string_view json_object);

  /// A lifecycle event: {"time","level","event", ...extra members}.
  /// `extra` is either empty or starts with ',' (`,"Agents":4`).
  void event(log_level l, std::string_view event, std::string_view extra = {});

  void flush();

private:
  void run();

  const log_level level_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::string pending_;
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::thread thread_;
};

} // namespace rapi
