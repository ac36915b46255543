#pragma once

/// \file
/// A tiny blocking HTTP/1.1 client for integration tests: one keep-alive
/// connection per client, POSIX sockets only, no dependencies.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rapi::test {

/// Header list, in wire order; names keep the case they were sent with.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// One HTTP response as read off the wire.
struct http_response {
  /// Status code; 0 when the connection closed without any response bytes.
  int status = 0;
  /// The decoded body (chunked framing removed).
  std::string body;
  /// Response headers (and chunked trailers, appended), in wire order.
  header_list headers;

  /// Value of the first header called `name` (case-insensitive); "" if absent.
  std::string header(std::string_view name) const;
  /// True if a header called `name` (case-insensitive) is present.
  bool has_header(std::string_view name) const;
};

/// Blocking HTTP/1.1 client talking to one host:port over a single
/// keep-alive connection, opened lazily on the first request.
///
/// Copying a client copies its endpoint and timeout, never its connection:
/// the copy opens its own one when first used. Not thread-safe; give every
/// thread its own client.
class http_client {
public:
  /// A client for `host` (name or numeric address) and `port`. Does not
  /// connect yet.
  http_client(std::string host, std::uint16_t port);
  ~http_client();

  http_client(const http_client& other);
  http_client& operator=(const http_client& other);
  http_client(http_client&& other) noexcept;
  http_client& operator=(http_client&& other) noexcept;

  /// Sends one request over the keep-alive connection (reconnecting once if
  /// the server had closed it) and reads the full response, framed by
  /// Content-Length, chunked encoding, or connection close. Interim 1xx
  /// responses are skipped.
  ///
  /// Adds `Host`; `Content-Length` when `body` is non-empty or the method is
  /// POST, PUT or PATCH; and, in that case, `Content-Type: application/json`.
  /// Each automatic header is left out when `headers` already names it
  /// (case-insensitive); giving it with an empty value suppresses it
  /// entirely (e.g. `{"Content-Type", ""}` sends no Content-Type at all).
  ///
  /// Throws std::runtime_error when connecting fails, the timeout (10 s by
  /// default, for the whole exchange) passes, or the connection closes in
  /// the middle of a response. A connection closed before any response
  /// byte arrived yields `status == 0`.
  http_response request(std::string_view method, std::string_view target,
                        std::string_view body = {},
                        const header_list& headers = {});

  /// GET `target`.
  http_response get(std::string_view target);
  /// POST `body` (as JSON) to `target`.
  http_response post(std::string_view target, std::string_view body);
  /// PUT `body` (as JSON) to `target`.
  http_response put(std::string_view target, std::string_view body);
  /// DELETE `target`.
  http_response del(std::string_view target);

  /// Sends `bytes` verbatim on a fresh connection (not the keep-alive one)
  /// and returns everything read until the peer closes, resets the
  /// connection, or `timeout` passes. Reading goes on while sending, so an
  /// early reply to a huge request is not lost. For hostile/malformed
  /// request tests. Throws std::runtime_error only when connecting fails.
  std::string raw(std::string_view bytes,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Closes the keep-alive connection, if any; the next request reconnects.
  void close();

  /// True while a keep-alive connection is open.
  bool connected() const { return fd_ >= 0; }

  /// How many TCP connections `request` has opened so far (`raw` excluded);
  /// lets a test tell whether the server kept a connection alive.
  std::size_t connection_count() const { return connections_; }

  /// Sets the whole-exchange timeout of `request` (default 10 s).
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }

private:
  using clock = std::chrono::steady_clock;

  int open_socket(clock::time_point deadline) const;
  bool peer_closed() const;
  bool send_all(std::string_view data, clock::time_point deadline);
  bool fill(clock::time_point deadline);
  bool read_line(std::string& line, clock::time_point deadline);
  void read_exact(std::string& out, std::size_t n, clock::time_point deadline);
  bool read_response(std::string_view method, clock::time_point deadline,
                     http_response& out, bool& close_after);

  std::string host_;
  std::uint16_t port_ = 0;
  int fd_ = -1;
  std::string buffer_;         // received, not yet consumed
  std::size_t received_ = 0;   // bytes received on the current connection
  std::size_t connections_ = 0;
  std::chrono::milliseconds timeout_ = std::chrono::seconds(10);
};

} // namespace rapi::test
