#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/handlers.hpp"
#include "http/limits.hpp"

#include "common/io_lanes.hpp"

namespace rapi {

struct http_settings {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 8080;
  std::string admin_bind = "127.0.0.1";
  std::uint16_t admin_port = 8081;
  /// Listener threads, each running one lane (common/io_lanes.hpp): API
  /// connections go to the lanes in turn; admin connections stay on the
  /// first.
  std::size_t threads = 2;
  /// Each listener thread runs only on a CPU of its own, when the process
  /// may use at least as many CPUs as there are threads (io_lanes.hpp,
  /// `lane_cpus`).
  bool pin_threads = true;
  /// Threads for scans and GetAll, off the listener threads.
  std::size_t query_threads = 1;
  /// A larger API body gets 413.
  std::size_t max_body_bytes = 64 * 1024;
  /// A larger admin body (bulk provisioning) gets 413.
  std::size_t admin_max_body_bytes = 256 * 1024 * 1024;
  /// Open connections per listener; requests on connections beyond get
  /// 503 `TooManyConnections` and the connection is closed.
  std::size_t max_connections = 10'000;
  /// A request (or the next one on a kept-alive connection) must arrive
  /// completely within this time, or the connection is closed: a slow
  /// client cannot hold a connection (slow loris).
  std::chrono::milliseconds read_timeout{15'000};
  /// URL, header name and value sizes, and header count; a request over
  /// them has its connection closed.
  std::size_t max_url_bytes = 8 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_count = 100;
};


/// The two RESTinio listeners (API and admin). Both accept on the first
/// lane; API connections are then spread over the lanes in turn, each
/// connection's work running on its lane's thread.
///
/// Each request becomes an `exchange` handed to `handlers`; the handler
/// answers it later from whatever thread finishes the work (usually the
/// owning agent actor's), so no listener thread ever waits.
class http_server {
public:
  explicit http_server(http_settings settings);
  ~http_server();

  /// Binds both listeners, serving nothing yet (the ports are known from
  /// here on); throws std::runtime_error naming the address when a bind
  /// fails.
  void bind();

  /// Starts the listener threads, which serve with `h` (binds first if
  /// `bind` was not called). Whatever `h` reads must be set before: from
  /// here on requests arrive, `/admin/health` even before `set_ready`.
  void start(handlers& h);

  std::uint16_t api_port() const;
  std::uint16_t admin_port() const;

  /// Runs `fn` on the query pool.
  void offload(std::function<void()> fn);

  /// Marks recovery done: until then, every request but `/admin/health`
  /// is answered 503 `Starting` (with Retry-After), so that no client
  /// mistakes a not-yet-restored agent for an unknown one.
  void set_ready();

  /// Stops accepting connections; requests still arriving get 503.
  void stop_accepting();

  /// Waits until no request is in flight, or `deadline` passes.
  bool drain(std::chrono::milliseconds deadline);

  /// Stops every thread. Call after the actors are gone.
  void stop();

  /// The lanes the listener threads run (from `start` until `stop`);
  /// agent actors may run on them too (actors/io_scheduler.hpp).
  io_lanes& lanes();

  std::int64_t in_flight() const;
  std::int64_t open_connections() const;
  /// Requests read on each lane (listener thread), both listeners.
  std::vector<std::uint64_t> requests_by_lane() const;
  limit_counters& limits();

  /// Called once per answered request (status, microseconds since it
  /// arrived), on whatever thread answered it: metrics and the log line.
  void set_observer(
    std::function<void(const exchange&, int status, std::int64_t latency_us)>
      observer);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace rapi
