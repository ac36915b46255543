#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rapi {

/// Every route the server serves. The router maps (method, path) to one of
/// these; handlers switch on it.
enum class route : std::uint8_t {
  none,
  agent_status,
  agent_get_all,
  blackout_start,
  blackout_stop,
  record_start,
  record_stop,
  record_update,
  duplicate_start,
  duplicate_stop,
  screen_start,
  screen_update,
  screen_stop,
  cti_events,
  recordings_query,
  recording_get,
  health,
  admin_agents_bulk,
  admin_agent_put,
  admin_agent_get,
  admin_agent_delete,
  admin_cluster,
  openapi,
  ready,
  metrics,
  admin_actors,
  admin_actor,
  admin_config,
};

/// Which listener a route table belongs to.
enum class listener : std::uint8_t { api, admin };

struct route_match {
  route which = route::none;
  /// 0 → found; 404 → no such path; 405 → path exists, method does not.
  int status = 404;
  /// The `{...}` segment of the path, as sent (not lower-cased).
  std::string param;
  /// For a 405: the methods the path does accept, comma-separated.
  std::string allow;
  /// A stable name for logs and metrics, e.g. "POST /api/Record/StartForAgent".
  const char* name = "unmatched";
};

/// Matches a request. Paths are case-insensitive and a trailing '/' is
/// ignored, as the vendor's clients rely on. HEAD is served like GET.
route_match match_route(listener l, std::string_view method,
                        std::string_view path);

/// Every (method, path pattern) a listener serves (for docs and tests).
std::vector<std::string> route_list(listener l);

} // namespace rapi
