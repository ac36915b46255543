#pragma once

/// Request parameter extraction, independent of RESTinio so that it can be
/// unit-tested and fuzzed on its own.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/command.hpp"
#include "actors/directory.hpp"
#include "common/json_value.hpp"
#include "common/time_util.hpp"

namespace rapi {

/// An error for the client: status code, stable code, one sentence.
struct http_error {
  int status = 0;
  std::string code;
  std::string message;

  explicit operator bool() const { return status != 0; }
};

http_error bad_request(std::string code, std::string message);
http_error not_found(std::string code, std::string message);

/// The parameters of one request: the JSON body's members, with the query
/// string filling in what the body lacks. Names match case-insensitively.
class request_params {
public:
  /// Parses `body` (JSON whatever the Content-Type; a form-encoded body is
  /// read as a form when Content-Type says so and it is not JSON) and
  /// `query` (the raw query string, without '?').
  http_error parse(std::string_view body, std::string_view query,
                   std::string_view content_type);

  /// The parameter named `name`, or nullptr. A JSON null counts as absent.
  const json_value* get(std::string_view name) const;

  /// The parsed body (an object, an array, or null when there was none).
  const json_value& body() const { return body_; }

private:
  json_value body_;
  json_value query_; // an object of strings
};

/// Decodes `%xx` and `+` in a URL component; nullopt on a bad escape.
std::optional<std::string> url_decode(std::string_view s);

/// Parses `a=1&b=2` into `out` (an object of strings).
http_error parse_form(std::string_view s, json_value& out);

/// How to find the agent a request names.
struct agent_selector {
  id_kind kind = id_kind::id;
  std::string kind_text; ///< as the client spelt it
  std::string value;
};

/// Reads `AgentIdentifier` and `Value` from `obj` (any object with case-
/// insensitive lookup, e.g. one CTI event). Missing → 404, bad → 400.
http_error read_selector(const request_params& p, agent_selector& out);
http_error read_selector(const json_value& obj, agent_selector& out);

/// The 404 for a selector that matched no agent.
http_error agent_not_found(const agent_selector& s);

/// Limits and settings parameter validation needs.
struct param_limits {
  std::size_t max_metadata_keys = 64;
  std::size_t max_metadata_key_bytes = 64;
  std::size_t max_metadata_value_bytes = 4096;
  /// When non-empty, the only CallMetadata keys allowed (the Terminology
  /// page's custom fields); compared case-insensitively.
  std::vector<std::string> metadata_fields;
  time_zone zone;
  std::int64_t max_time_offset_s = 172'800;
};

/// Fills `cmd` with CallIdentifier and CallMetadata.
http_error read_call_params(const request_params& p, const param_limits& lim,
                            command& cmd);

/// Fills `cmd.time` for a blackout start or stop received at `received`.
http_error read_blackout_time(const request_params& p, const param_limits& lim,
                              bool start, timestamp received, command& cmd);

/// Reads one CTI event object (AgentIdentifier/Value, Type, CallId, ...).
http_error read_cti_event(const json_value& obj, const param_limits& lim,
                          agent_selector& who, command& cmd);

/// Reads a string-or-number parameter as text; wrong type → 400.
http_error read_text(const json_value* v, std::string_view name,
                     std::optional<std::string>& out);

} // namespace rapi
