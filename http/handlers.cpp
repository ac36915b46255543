#include "http/handlers.hpp"

#include <limits>
#include <optional>

#include <malloc.h>

#include "actors/codec.hpp"
#include "http/openapi.hpp"
#include "storage/keys.hpp"

namespace rapi {

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

void ok(const exchange_ptr& ex, std::string body) {
  ex->respond(200, std::move(body));
}

/// Parses an AgentID from a path segment.
std::optional<std::int64_t> path_agent_id(const std::string& s) {
  auto n = parse_int(s);
  if (!n || *n <= 0)
    return std::nullopt;
  return n;
}

/// The agent command behind a vendor command route, if `r` is one.
std::optional<command_kind> command_of(route r) {
  static constexpr std::pair<route, command_kind> table[] = {
    {route::record_start, command_kind::record_start},
    {route::record_stop, command_kind::record_stop},
    {route::record_update, command_kind::record_update},
    {route::duplicate_start, command_kind::duplicate_start},
    {route::duplicate_stop, command_kind::duplicate_stop},
    {route::screen_start, command_kind::screen_start},
    {route::screen_update, command_kind::screen_update},
    {route::screen_stop, command_kind::screen_stop},
    {route::blackout_start, command_kind::blackout_start},
    {route::blackout_stop, command_kind::blackout_stop},
  };
  for (auto& [rt, kind] : table)
    if (rt == r)
      return kind;
  return std::nullopt;
}

http_error bad_agent_id(const std::string& s) {
  return bad_request("InvalidParameter",
                     "AgentID '" + utf8_prefix(s, 64)
                       + "' in the path is not an integer greater than 0");
}

/// "array", "string", ...: what a JSON value is, for error messages.
const char* json_kind_name(const json_value& v) {
  switch (v.type) {
    case json_value::kind::null:
      return "null";
    case json_value::kind::boolean:
      return "boolean";
    case json_value::kind::number:
      return "number";
    case json_value::kind::string:
      return "string";
    case json_value::kind::array:
      return "array";
    case json_value::kind::object:
      return "object";
  }
  return "value";
}

/// The vendor's commands and the agent and recordings queries read their
/// parameters from a JSON object (or the query string alone): a body that
/// is JSON of another kind is the wrong type, a 400, rather than a body
/// without parameters (which the vendor answers 404 MissingParameter).
http_error check_body_shape(route r, const json_value& body) {
  if (body.is_null() || body.is_object())
    return {};
  if (!command_of(r) && r != route::agent_status
      && r != route::recordings_query)
    return {};
  return bad_request("InvalidJson",
                     std::string("the request body must be a JSON object of "
                                 "parameters, not a JSON ")
                       + json_kind_name(body));
}

} // namespace

http_error to_http(const agent_error& e) {
  int status;
  switch (e.code) {
    case agent_errc::agent_not_found:
    case agent_errc::not_in_call:
    case agent_errc::call_not_found:
    case agent_errc::not_recording:
      status = 404;
      break;
    case agent_errc::invalid_metadata:
    case agent_errc::invalid_time:
      status = 400;
      break;
    default:
      status = 500;
  }
  return {status, to_string(e.code), e.message};
}

handlers::handlers(handler_services s) : svc_(std::move(s)) {
  started_ = svc_.now();
}

agent_entry_ptr handlers::resolve(const agent_selector& s) const {
  auto e = svc_.dir->find(s.kind, s.value);
  if (e && e->removed.load())
    return nullptr;
  return e;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  auto n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

namespace {

/// The credential a request presents: a bearer token or an X-Api-Key.
std::string_view presented(const exchange& ex) {
  std::string_view auth = ex.authorization;
  if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer "))
    return auth.substr(7);
  return ex.api_key;
}

bool any_matches(const std::vector<std::string>& secrets,
                 std::string_view given) {
  bool match = false;
  for (auto& s : secrets)
    match |= constant_time_equal(s, given); // no early exit
  return match;
}

} // namespace

void handlers::dispatch(listener l, const exchange_ptr& ex) {
  dispatch(l, ex, match_route(l, ex->method, ex->path));
}

void handlers::dispatch(listener l, const exchange_ptr& ex, route_match m) {
  ex->which = m.which;
  ex->route_name = m.name;
  ex->where = l;
  const bool open_route = m.which == route::health || m.which == route::ready;
  if (m.status == 0 && !open_route) {
    const auto& secrets = l == listener::admin
                            ? std::vector<std::string>{svc_.admin_token}
                            : svc_.api_keys;
    bool required = l == listener::admin ? !svc_.admin_token.empty()
                                         : !svc_.api_keys.empty();
    if (required && !any_matches(secrets, presented(*ex))) {
      ex->fail({401, "Unauthorized",
                l == listener::admin
                  ? "the admin listener wants Authorization: Bearer <token>"
                  : "this API wants a key: Authorization: Bearer <key> or "
                    "X-Api-Key: <key>"},
               {{"WWW-Authenticate", "Bearer"}});
      return;
    }
  }
  if (m.status == 404) {
    ex->fail(not_found("RouteNotFound", "there is no route " + ex->method + " "
                                          + utf8_prefix(ex->path, 200)));
    return;
  }
  if (m.status == 405) {
    ex->fail({405, "MethodNotAllowed",
              "the route " + utf8_prefix(ex->path, 200) + " does not accept "
                + ex->method + "; it accepts " + m.allow},
             {{"Allow", m.allow}});
    return;
  }
  if (ex->body_too_large) {
    ex->fail({413, "PayloadTooLarge",
              "the request body is larger than this route accepts"});
    return;
  }
  request_params p;
  if (auto err = p.parse(ex->body, ex->query, ex->content_type)) {
    ex->fail(err);
    return;
  }
  if (auto err = check_body_shape(m.which, p.body())) {
    ex->fail(err);
    return;
  }
  switch (m.which) {
    case route::agent_status:
      return on_agent_status(ex, p);
    case route::agent_get_all:
      return on_get_all(ex);
    case route::cti_events:
      return on_cti(ex, p);
    case route::recordings_query:
      return on_recordings_query(ex, p);
    case route::recording_get:
      return on_recording_get(ex, m.param);
    case route::health:
      return on_health(ex);
    case route::admin_cluster:
      return on_cluster(ex);
    case route::openapi:
      return ok(ex, std::string(openapi_json()));
    case route::admin_agents_bulk:
      return on_put_agents(ex, p, {});
    case route::admin_agent_put:
      return on_put_agents(ex, p, m.param);
    case route::admin_agent_get:
      return on_get_agent(ex, m.param);
    case route::admin_agent_delete:
      return on_delete_agent(ex, m.param);
    case route::record_start:
    case route::record_stop:
    case route::record_update:
    case route::duplicate_start:
    case route::duplicate_stop:
    case route::screen_start:
    case route::screen_update:
    case route::screen_stop:
    case route::blackout_start:
    case route::blackout_stop:
      return on_command(m.which, ex, p);
    case route::ready:
    case route::metrics:
    case route::admin_actors:
    case route::admin_actor:
    case route::admin_config:
      if (svc_.admin_extra)
        return svc_.admin_extra(m.which, m.param, ex);
      break;
    case route::none:
      break;
  }
  ex->fail({500, "InternalError", "unrouted request"});
}

// -- agents -------------------------------------------------------------------

void handlers::on_agent_status(const exchange_ptr& ex,
                               const request_params& p) {
  agent_selector who;
  if (auto err = read_selector(p, who))
    return ex->fail(err);
  auto e = resolve(who);
  if (!e)
    return ex->fail(agent_not_found(who));
  ex->agent_id = e->id();
  std::string body;
  body.reserve(1024);
  append_agent(body, *e->profile(), *e->live());
  ok(ex, std::move(body));
}

void handlers::on_get_all(const exchange_ptr& ex) {
  svc_.offload([this, ex] {
    auto all = svc_.dir->all();
    std::string body;
    body.reserve(all.size() * 600 + 2);
    body.push_back('[');
    bool first = true;
    for (auto& e : all) {
      if (e->removed.load())
        continue;
      if (!first)
        body.push_back(',');
      first = false;
      append_agent(body, *e->profile(), *e->live());
    }
    body.push_back(']');
    ok(ex, std::move(body));
  });
}

void handlers::on_command(route r, const exchange_ptr& ex,
                          const request_params& p) {
  const timestamp received = svc_.now();
  agent_selector who;
  if (auto err = read_selector(p, who))
    return ex->fail(err);
  command cmd;
  // dispatch gives on_command the command routes only
  cmd.kind = command_of(r).value_or(command_kind::blackout_stop);
  const bool blackout = cmd.kind == command_kind::blackout_start
                        || cmd.kind == command_kind::blackout_stop;
  auto err = blackout
               ? read_blackout_time(p, svc_.limits,
                                    cmd.kind == command_kind::blackout_start,
                                    received, cmd)
               : read_call_params(p, svc_.limits, cmd);
  if (err) {
    if (err.code == "InvalidMetadata" && svc_.limit_hits)
      ++svc_.limit_hits->metadata;
    return ex->fail(err);
  }
  // Screen commands name no call: a CallIdentifier is ignored.
  if (r == route::screen_start || r == route::screen_update
      || r == route::screen_stop)
    cmd.call_identifier.reset();
  auto e = resolve(who);
  if (!e)
    return ex->fail(agent_not_found(who));
  ex->agent_id = e->id();
  svc_.send(e, std::move(cmd), [ex](agent_error err, std::string body) {
    if (err)
      ex->fail(to_http(err));
    else
      ok(ex, std::move(body));
  });
}

// -- CTI ----------------------------------------------------------------------

namespace {

/// Applies a list of CTI events one after another, each after the previous
/// one's answer, and answers the exchange at the end or at the first error.
struct cti_run : std::enable_shared_from_this<cti_run> {
  const handler_services* svc;
  exchange_ptr ex;
  std::vector<std::pair<agent_selector, command>> events;
  bool many = false;
  std::size_t next = 0;
  std::string results;

  /// `err` about event `i`, naming it when the request held a list (and
  /// saying that the events before it were applied when they were).
  http_error prefix(http_error err, std::size_t i, bool applied = true) const {
    if (many)
      err.message = "event " + std::to_string(i) + ": " + err.message
                    + (applied && i > 0 ? " (the events before it were applied)"
                                        : "");
    return err;
  }

  void step() {
    if (next == events.size()) {
      ex->respond(200, many ? "[" + results + "]" : results);
      return;
    }
    auto i = next++;
    auto& [who, cmd] = events[i];
    auto e = svc->dir->find(who.kind, who.value);
    if (!e || e->removed.load()) {
      ex->fail(prefix(agent_not_found(who), i));
      return;
    }
    if (ex->agent_id == 0)
      ex->agent_id = e->id();
    auto self = shared_from_this();
    svc->send(e, std::move(cmd), [self, i](agent_error err, std::string body) {
      if (err) {
        self->ex->fail(self->prefix(to_http(err), i));
        return;
      }
      if (i > 0)
        self->results.push_back(',');
      self->results += body;
      self->step();
    });
  }
};

} // namespace

void handlers::on_cti(const exchange_ptr& ex, const request_params& p) {
  auto run = std::make_shared<cti_run>();
  run->svc = &svc_;
  run->ex = ex;
  const auto& body = p.body();
  auto read_one = [&](const json_value& obj, std::size_t i) -> bool {
    agent_selector who;
    command cmd;
    if (auto err = read_cti_event(obj, svc_.limits, who, cmd)) {
      // Checked before any event is applied: nothing was.
      ex->fail(run->prefix(err, i, false));
      return false;
    }
    run->events.emplace_back(std::move(who), std::move(cmd));
    return true;
  };
  if (body.is_array()) {
    run->many = true;
    if (body.items.empty())
      return ex->fail(bad_request("InvalidParameter",
                                  "the list of CTI events is empty"));
    if (body.items.size() > 10'000)
      return ex->fail(bad_request("InvalidParameter",
                                  "at most 10000 CTI events per request"));
    for (std::size_t i = 0; i < body.items.size(); ++i)
      if (!read_one(body.items[i], i))
        return;
  } else if (body.is_object()) {
    if (!read_one(body, 0))
      return;
  } else if (body.is_null()) {
    return ex->fail(not_found("MissingParameter",
                              "the body must be a CTI event object or an "
                              "array of them"));
  } else {
    return ex->fail(bad_request("InvalidJson",
                                "the body must be a CTI event object or an "
                                "array of them, not a JSON "
                                + std::string(json_kind_name(body))));
  }
  run->step();
}

// -- recordings ---------------------------------------------------------------

namespace {

std::string hex_encode(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view s) {
  if (s.size() % 2 != 0 || s.size() > 400)
    return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9')
        return c - '0';
      if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
      if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
      return -1;
    };
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

} // namespace

void handlers::on_recordings_query(const exchange_ptr& ex,
                                   const request_params& p) {
  std::optional<std::string> agent_text, cid, from_text, to_text, limit_text,
    cursor_text;
  if (auto e = read_text(p.get("agentId"), "agentId", agent_text))
    return ex->fail(e);
  if (auto e = read_text(p.get("callIdentifier"), "callIdentifier", cid))
    return ex->fail(e);
  if (auto e = read_text(p.get("from"), "from", from_text))
    return ex->fail(e);
  if (auto e = read_text(p.get("to"), "to", to_text))
    return ex->fail(e);
  if (auto e = read_text(p.get("limit"), "limit", limit_text))
    return ex->fail(e);
  if (auto e = read_text(p.get("cursor"), "cursor", cursor_text))
    return ex->fail(e);
  std::optional<std::int64_t> agent;
  if (agent_text && !agent_text->empty()) {
    agent = parse_int(*agent_text);
    if (!agent || *agent <= 0)
      return ex->fail(bad_request("InvalidParameter",
                                  "agentId '" + utf8_prefix(*agent_text, 64)
                                    + "' is not an integer greater than 0"));
  }
  timestamp from = std::numeric_limits<timestamp>::min();
  timestamp to = std::numeric_limits<timestamp>::max();
  for (auto [text, into, name] :
       {std::tuple{&from_text, &from, "from"}, std::tuple{&to_text, &to, "to"}}) {
    if (*text && !(*text)->empty()) {
      auto t = parse_time(**text, svc_.limits.zone);
      if (!t)
        return ex->fail(bad_request("InvalidTime",
                                    std::string(name) + " '"
                                      + utf8_prefix(**text, 64)
                                      + "' is not a date-time"));
      *into = *t;
    }
  }
  std::int64_t limit = 100;
  if (limit_text && !limit_text->empty()) {
    auto n = parse_int(*limit_text);
    if (!n || *n < 1 || *n > 1000)
      return ex->fail(bad_request("InvalidParameter",
                                  "limit must be an integer from 1 to 1000"));
    limit = *n;
  }
  std::string prefix = agent ? keys::agent_prefix(*agent)
                             : std::string(keys::time_prefix);
  std::string start;
  if (cursor_text && !cursor_text->empty()) {
    auto key = hex_decode(*cursor_text);
    if (!key || key->compare(0, prefix.size(), prefix) != 0)
      return ex->fail(bad_request("InvalidParameter",
                                  "cursor is not one this query returned"));
    start = *key + '\x01'; // strictly after the last key returned
  } else if (to != std::numeric_limits<timestamp>::max()) {
    // INT64_MAX - to as the keys store it, in unsigned arithmetic: a `to`
    // before 1970 would overflow int64 (found by tests/fuzz/dispatch_fuzz).
    start = prefix
            + keys::hex16(static_cast<std::uint64_t>(
                            std::numeric_limits<std::int64_t>::max())
                          - static_cast<std::uint64_t>(to));
  }
  if (cid && cid->empty())
    cid.reset();
  svc_.offload([this, ex, prefix, start, from, to, limit, cid] {
    constexpr std::size_t max_scanned = 20'000;
    std::size_t scanned = 0;
    std::string body = "{\"Recordings\":[";
    std::int64_t found = 0;
    std::string last_key;
    bool more = false;
    std::string failure;
    auto st = svc_.store->scan(
      prefix, start, [&](std::string_view key, std::string_view) {
        if (found == limit || scanned == max_scanned) {
          more = true;
          return false;
        }
        ++scanned;
        last_key = std::string(key);
        storage_status gs;
        auto value = svc_.store->get(
          keys::recording(keys::id_of_index_key(key)), gs);
        if (!gs.ok()) {
          failure = gs.message;
          return false;
        }
        recording r;
        if (!value || !decode_recording(*value, r))
          return true;
        if (r.start > to)
          return true;
        if (r.start < from)
          return false; // newest first: everything after is older
        if (cid && r.call_identifier != *cid)
          return true;
        if (found > 0)
          body.push_back(',');
        body += *value;
        ++found;
        return true;
      });
    if (!st.ok() || !failure.empty()) {
      ex->fail({500, "StorageFailure",
                "the recordings could not be read: "
                  + (failure.empty() ? st.message : failure)});
      return;
    }
    body += "],\"NextCursor\":";
    if (more)
      append_json_string(body, hex_encode(last_key));
    else
      body += "null";
    body.push_back('}');
    ok(ex, std::move(body));
  });
}

void handlers::on_recording_get(const exchange_ptr& ex, const std::string& id) {
  auto key = keys::recording(to_lower(id));
  svc_.offload([this, ex, key, id] {
    storage_status st;
    auto value = svc_.store->get(key, st);
    if (!st.ok())
      return ex->fail({500, "StorageFailure",
                       "the recording could not be read: " + st.message});
    if (!value)
      return ex->fail(not_found("RecordingNotFound",
                                "no recording has RecordingIdentifier '"
                                  + utf8_prefix(id, 64) + "'"));
    ok(ex, std::move(*value));
  });
}

// -- admin --------------------------------------------------------------------

void handlers::on_health(const exchange_ptr& ex) {
  std::string body = "{\"Status\":\"Ok\",\"ServerId\":";
  append_json_string(body, svc_.server_id);
  body += ",\"Agents\":" + std::to_string(svc_.dir->size())
          + ",\"UptimeSeconds\":"
          + std::to_string((svc_.now() - started_) / 1000) + "}";
  ok(ex, std::move(body));
}

void handlers::on_cluster(const exchange_ptr& ex) {
  if (auto status = svc_.cluster_status ? svc_.cluster_status() : "";
      !status.empty()) {
    ok(ex, std::move(status));
    return;
  }
  std::string body = "{\"Enabled\":false,\"ServerId\":";
  append_json_string(body, svc_.server_id);
  body += "}";
  ok(ex, std::move(body));
}

void handlers::on_put_agents(const exchange_ptr& ex, const request_params& p,
                             const std::string& path_id) {
  std::vector<agent_profile> profiles;
  std::string why;
  const auto& body = p.body();
  if (!path_id.empty()) {
    auto id = path_agent_id(path_id);
    if (!id)
      return ex->fail(bad_agent_id(path_id));
    json_value empty_object;
    empty_object.type = json_value::kind::object;
    const json_value& obj = body.is_null() ? empty_object : body;
    profiles.emplace_back();
    if (!decode_profile(obj, profiles.back(), why, *id))
      return ex->fail(bad_request("InvalidParameter", why));
  } else {
    if (!body.is_array())
      return ex->fail(bad_request("InvalidParameter",
                                  "PUT /admin/agents takes a JSON array of "
                                  "agents"));
    if (body.items.size() > svc_.max_bulk_agents && svc_.limit_hits)
      ++svc_.limit_hits->bulk;
    if (body.items.size() > svc_.max_bulk_agents)
      return ex->fail(bad_request(
        "InvalidParameter", "at most " + std::to_string(svc_.max_bulk_agents)
                              + " agents per request"));
    profiles.reserve(body.items.size());
    for (std::size_t i = 0; i < body.items.size(); ++i) {
      profiles.emplace_back();
      if (!decode_profile(body.items[i], profiles.back(), why))
        return ex->fail(bad_request("InvalidParameter",
                                    "agent " + std::to_string(i) + ": " + why));
    }
  }
  auto res = svc_.dir->provision(
    profiles,
    [this](const std::vector<agent_profile>& ps) {
      write_batch b;
      for (auto& prof : ps)
        b.put(keys::profile(prof.id), encode_profile(prof));
      auto st = svc_.store->write(b);
      return st.message;
    });
  if (!res.conflict.empty())
    return ex->fail({409, "Conflict", res.conflict});
  if (!res.storage_error.empty())
    return ex->fail({500, "StorageFailure",
                     "the agents could not be stored: " + res.storage_error});
  if (svc_.provisioned && !res.created.empty())
    svc_.provisioned(res.created);
  if (!path_id.empty()) {
    auto e = svc_.dir->find_id(profiles.front().id);
    std::string out;
    append_agent(out, *e->profile(), *e->live());
    return ok(ex, std::move(out));
  }
  // A big request body and its parse tree were just freed: hand the pages
  // back, so that RSS reflects the agents rather than the last upload.
  if (profiles.size() >= 10'000)
    ::malloc_trim(0);
  ok(ex, "{\"Provisioned\":" + std::to_string(profiles.size())
           + ",\"Created\":" + std::to_string(res.created.size())
           + ",\"Updated\":" + std::to_string(res.updated.size()) + "}");
}

void handlers::on_get_agent(const exchange_ptr& ex, const std::string& path_id) {
  auto id = path_agent_id(path_id);
  if (!id)
    return ex->fail(bad_agent_id(path_id));
  auto e = svc_.dir->find_id(*id);
  if (!e || e->removed.load())
    return ex->fail(not_found("AgentNotFound", "AgentID " + std::to_string(*id)
                                                 + " matched no agent"));
  std::string out;
  append_agent(out, *e->profile(), *e->live());
  ok(ex, std::move(out));
}

void handlers::on_delete_agent(const exchange_ptr& ex,
                               const std::string& path_id) {
  auto id = path_agent_id(path_id);
  if (!id)
    return ex->fail(bad_agent_id(path_id));
  auto e = svc_.dir->find_id(*id);
  if (!e || e->removed.load())
    return ex->fail(not_found("AgentNotFound", "AgentID " + std::to_string(*id)
                                                 + " matched no agent"));
  command cmd;
  cmd.kind = command_kind::remove;
  auto* dir = svc_.dir;
  auto agent_id = *id;
  svc_.send(e, std::move(cmd),
            [ex, dir, agent_id](agent_error err, std::string body) {
              if (err)
                return ex->fail(to_http(err));
              dir->unindex(agent_id);
              ok(ex, std::move(body));
            });
}

} // namespace rapi
