#include "common/log.hpp"

#include <chrono>
#include <cstdio>

#include "common/json_value.hpp"
#include "common/time_util.hpp"

namespace rapi {

std::optional<log_level> parse_log_level(std::string_view s) {
  for (auto l : {log_level::debug, log_level::info, log_level::warn,
                 log_level::error, log_level::off})
    if (iequals(s, to_string(l)))
      return l;
  return std::nullopt;
}

const char* to_string(log_level l) {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::off:
      return "off";
  }
  return "info";
}

logger::logger(log_level level) : level_(level) {
  thread_ = std::thread([this] { run(); });
}

logger::~logger() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void logger::write(std::string json_object) {
  write_line(json_object);
}

void logger::write_line(std::string_view json_object) {
  std::lock_guard<std::mutex> guard{mtx_};
  pending_ += json_object;
  pending_.push_back('\n');
}

void logger::event(log_level l, std::string_view event,
                   std::string_view extra) {
  if (!enabled(l))
    return;
  std::string line = "{\"time\":\"";
  append_time(line, std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
  line += "\",\"level\":\"";
  line += to_string(l);
  line += "\",\"event\":";
  append_json_string(line, event);
  line += extra;
  line.push_back('}');
  write(std::move(line));
  flush();
}

void logger::flush() {
  std::unique_lock<std::mutex> lock{mtx_};
  flush_requested_ = true;
  cv_.notify_one();
  cv_.wait(lock, [this] { return !flush_requested_ || stopping_; });
}

void logger::run() {
  std::string batch;
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait_for(lock, std::chrono::milliseconds(20), [this] {
      return stopping_ || flush_requested_;
    });
    batch.swap(pending_);
    bool was_flush = flush_requested_;
    bool stop = stopping_;
    lock.unlock();
    if (!batch.empty()) {
      std::fwrite(batch.data(), 1, batch.size(), stdout);
      batch.clear();
    }
    std::fflush(stdout);
    lock.lock();
    if (was_flush) {
      flush_requested_ = false;
      cv_.notify_all();
    }
    if (stop && pending_.empty())
      return;
  }
}

} // namespace rapi
