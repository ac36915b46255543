#include "http/router.hpp"

#include "common/json_value.hpp"

namespace rapi {

namespace {

struct route_def {
  listener where;
  const char* method;
  /// Lower-case; a trailing "{}" matches one non-empty segment.
  const char* pattern;
  route which;
  const char* name;
};

constexpr route_def routes[] = {
  {listener::api, "GET", "/api/agent", route::agent_status,
   "GET /api/Agent"},
  {listener::api, "GET", "/api/agent/getall", route::agent_get_all,
   "GET /api/Agent/GetAll"},
  {listener::api, "POST", "/api/blackout/startforagent", route::blackout_start,
   "POST /api/Blackout/StartForAgent"},
  {listener::api, "POST", "/api/blackout/stopforagent", route::blackout_stop,
   "POST /api/Blackout/StopForAgent"},
  {listener::api, "POST", "/api/record/startforagent", route::record_start,
   "POST /api/Record/StartForAgent"},
  {listener::api, "POST", "/api/record/stopforagent", route::record_stop,
   "POST /api/Record/StopForAgent"},
  {listener::api, "POST", "/api/record/updateforagent", route::record_update,
   "POST /api/Record/UpdateForAgent"},
  {listener::api, "POST", "/api/record/startduplicateforagent",
   route::duplicate_start, "POST /api/Record/StartDuplicateForAgent"},
  {listener::api, "POST", "/api/record/stopduplicateforagent",
   route::duplicate_stop, "POST /api/Record/StopDuplicateForAgent"},
  {listener::api, "POST", "/api/screenrecord/startforagent",
   route::screen_start, "POST /api/ScreenRecord/StartForAgent"},
  {listener::api, "POST", "/api/screenrecord/updateforagent",
   route::screen_update, "POST /api/ScreenRecord/UpdateForAgent"},
  {listener::api, "POST", "/api/screenrecord/stopforagent", route::screen_stop,
   "POST /api/ScreenRecord/StopForAgent"},
  {listener::api, "POST", "/api/cti/events", route::cti_events,
   "POST /api/Cti/Events"},
  {listener::api, "GET", "/api/recordings", route::recordings_query,
   "GET /api/Recordings"},
  {listener::api, "GET", "/api/recordings/{}", route::recording_get,
   "GET /api/Recordings/{id}"},
  {listener::api, "GET", "/api/openapi.json", route::openapi,
   "GET /api/openapi.json"},
  {listener::api, "GET", "/admin/health", route::health,
   "GET /admin/health"},
  {listener::admin, "GET", "/admin/health", route::health,
   "GET /admin/health"},
  {listener::admin, "GET", "/admin/ready", route::ready, "GET /admin/ready"},
  {listener::admin, "GET", "/admin/metrics", route::metrics,
   "GET /admin/metrics"},
  {listener::admin, "GET", "/admin/actors", route::admin_actors,
   "GET /admin/actors"},
  {listener::admin, "GET", "/admin/actors/{}", route::admin_actor,
   "GET /admin/actors/{AgentID}"},
  {listener::admin, "GET", "/admin/config", route::admin_config,
   "GET /admin/config"},
  {listener::admin, "GET", "/admin/cluster", route::admin_cluster,
   "GET /admin/cluster"},
  {listener::admin, "PUT", "/admin/agents", route::admin_agents_bulk,
   "PUT /admin/agents"},
  {listener::admin, "PUT", "/admin/agents/{}", route::admin_agent_put,
   "PUT /admin/agents/{AgentID}"},
  {listener::admin, "GET", "/admin/agents/{}", route::admin_agent_get,
   "GET /admin/agents/{AgentID}"},
  {listener::admin, "DELETE", "/admin/agents/{}", route::admin_agent_delete,
   "DELETE /admin/agents/{AgentID}"},
};

/// Matches lower-cased `path` against `pattern`; fills `param` from the
/// original spelling.
bool matches(std::string_view pattern, std::string_view lower,
             std::string_view original, std::string& param) {
  constexpr std::string_view wildcard = "{}";
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == wildcard) {
    auto prefix = pattern.substr(0, pattern.size() - 2);
    if (lower.size() <= prefix.size() || lower.substr(0, prefix.size()) != prefix)
      return false;
    auto rest = original.substr(prefix.size());
    if (rest.find('/') != std::string_view::npos)
      return false;
    param = std::string(rest);
    return true;
  }
  return pattern == lower;
}

} // namespace

route_match match_route(listener l, std::string_view method,
                        std::string_view path) {
  route_match m;
  std::string_view original = path;
  while (original.size() > 1 && original.back() == '/')
    original.remove_suffix(1);
  // Lower-cased into this thread's buffer: no allocation per request.
  thread_local std::string lower;
  lower.assign(original);
  for (auto& c : lower)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  std::string_view effective = method == "HEAD" ? "GET" : method;
  for (auto& r : routes) {
    if (r.where != l)
      continue;
    std::string param;
    if (!matches(r.pattern, lower, original, param))
      continue;
    if (effective == r.method) {
      m.which = r.which;
      m.status = 0;
      m.param = std::move(param);
      m.name = r.name;
      m.allow.clear();
      return m;
    }
    m.status = 405;
    if (!m.allow.empty())
      m.allow += ", ";
    m.allow += r.method;
  }
  return m;
}

std::vector<std::string> route_list(listener l) {
  std::vector<std::string> out;
  for (auto& r : routes)
    if (r.where == l)
      out.emplace_back(r.name);
  return out;
}

} // namespace rapi
