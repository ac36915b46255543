#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/params.hpp"
#include "http/router.hpp"

namespace rapi {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request and the way to answer it, from any thread, exactly
/// once. Handlers see this instead of RESTinio so that routing and
/// validation can be tested and fuzzed without sockets.
class exchange {
public:
  virtual ~exchange() = default;

  std::string method;       ///< upper-case, as sent
  std::string path;         ///< without the query string
  std::string query;        ///< raw, without '?'
  std::string body;
  std::string content_type;
  bool body_too_large = false;
  /// `Authorization` and `X-Api-Key` as sent (never logged).
  std::string authorization;
  std::string api_key;
  /// The request id (the client's X-Request-Id when sane, else ours);
  /// returned in the X-Request-Id response header and logged.
  std::string request_id;
  listener where = listener::api;
  /// Set by the router; used by logs and metrics.
  route which = route::none;
  const char* route_name = "unmatched";
  /// The AgentID the request acted on, once known (for the log line).
  std::int64_t agent_id = 0;

  /// Sends the response. Later calls are ignored.
  void respond(int status, std::string body, header_list headers = {}) {
    if (responded_.exchange(true))
      return;
    do_respond(status, std::move(body), std::move(headers));
  }

  /// Sends `{"Message": ..., "Code": ...}` with the error's status.
  void fail(const http_error& err, header_list headers = {});

  bool responded() const { return responded_.load(); }

protected:
  virtual void do_respond(int status, std::string body, header_list headers)
    = 0;

private:
  std::atomic<bool> responded_{false};
};

using exchange_ptr = std::shared_ptr<exchange>;

/// The error body of the contract.
std::string error_body(std::string_view code, std::string_view message);

} // namespace rapi
