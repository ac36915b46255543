#include "actors/codec.hpp"

namespace rapi {

namespace {

void append_str_or_null(std::string& out, std::string_view s) {
  if (s.empty())
    out += "null";
  else
    append_json_string(out, s);
}

void append_time_or_null(std::string& out, const std::optional<timestamp>& t) {
  if (!t) {
    out += "null";
    return;
  }
  out.push_back('"');
  append_time(out, *t);
  out.push_back('"');
}

void append_int_or_null(std::string& out, const std::optional<std::int64_t>& v) {
  if (v)
    append_integer(out, *v);
  else
    out += "null";
}

template <class T, class F>
void append_array(std::string& out, const T& items, F&& fn) {
  out.push_back('[');
  bool first = true;
  for (auto& x : items) {
    if (!first)
      out.push_back(',');
    first = false;
    fn(out, x);
  }
  out.push_back(']');
}

void append_interval(std::string& o, const interval& i) {
  o += "{\"StartTime\":";
  append_time_or_null(o, i.start);
  o += ",\"StopTime\":";
  append_time_or_null(o, i.stop);
  o.push_back('}');
}

// -- decoding helpers -------------------------------------------------------

const json_value* member_ci(const json_value& obj, std::string_view key) {
  for (auto& [k, v] : obj.members)
    if (iequals(k, key))
      return &v;
  return nullptr;
}

std::string get_str(const json_value& obj, std::string_view key) {
  auto* v = member_ci(obj, key);
  return v && (v->is_string() || v->is_number()) ? v->text : std::string{};
}

std::optional<timestamp> get_time(const json_value& obj, std::string_view key) {
  auto* v = member_ci(obj, key);
  if (!v || !v->is_string())
    return std::nullopt;
  return parse_time(v->text, time_zone{});
}

bool decode_metadata(const json_value* v, metadata& out) {
  out.clear();
  if (!v || v->is_null())
    return true;
  if (!v->is_object())
    return false;
  for (auto& [k, val] : v->members)
    out.emplace_back(k, val.text);
  return true;
}

/// A recording in a stored live state: its id (layout 2, the recording
/// itself is under its own key) or the whole object (layout 1).
bool decode_recording_ref(const json_value& v, recording& out,
                          const recording_lookup& lookup) {
  if (v.is_string())
    return lookup && !v.text.empty() && lookup(v.text, out);
  return decode_recording(v, out);
}

bool decode_call(const json_value& v, call& out,
                 const recording_lookup& lookup) {
  if (!v.is_object())
    return false;
  out.call_id = get_str(v, "CallInstance");
  out.call_identifier = get_str(v, "CallIdentifier");
  auto st = parse_call_state(get_str(v, "CallState"));
  auto start = get_time(v, "StartTime");
  if (out.call_id.empty() || !st || !start)
    return false;
  out.state = *st;
  out.start = *start;
  if (!decode_metadata(member_ci(v, "Metadata"), out.meta))
    return false;
  out.recordings.clear();
  if (auto* recs = member_ci(v, "Recordings"); recs && recs->is_array()) {
    for (auto& r : recs->items) {
      out.recordings.emplace_back();
      if (!decode_recording_ref(r, out.recordings.back(), lookup))
        return false;
    }
  }
  return true;
}

bool decode_blackout_ptr(const json_value* v, blackout_state& out) {
  out = blackout_state{};
  if (!v || v->is_null())
    return true;
  if (!v->is_object())
    return false;
  auto* active = member_ci(*v, "Active");
  out.active = active && active->boolean;
  out.start = get_time(*v, "StartTime");
  out.stop = get_time(*v, "StopTime");
  out.scheduled_start = get_time(*v, "ScheduledStartTime");
  out.scheduled_stop = get_time(*v, "ScheduledStopTime");
  out.origin = get_str(*v, "Origin");
  if (auto* ver = member_ci(*v, "Version"); ver && ver->is_object()) {
    out.version.wall = parse_signed_int(get_str(*ver, "Wall")).value_or(0);
    out.version.logical = static_cast<std::uint32_t>(
      parse_int(get_str(*ver, "Logical")).value_or(0));
  }
  if (auto* h = member_ci(*v, "History"); h && h->is_array()) {
    for (auto& i : h->items) {
      if (i.is_array()) { // [start, stop] in epoch milliseconds
        if (i.items.size() != 2 || !i.items[0].is_number())
          return false;
        auto s = parse_signed_int(i.items[0].text);
        if (!s)
          return false;
        std::optional<timestamp> stop;
        if (!i.items[1].is_null()) {
          stop = i.items[1].is_number() ? parse_signed_int(i.items[1].text)
                                        : std::nullopt;
          if (!stop)
            return false;
        }
        out.history.push_back({*s, stop});
        continue;
      }
      auto s = get_time(i, "StartTime");
      if (!s)
        return false;
      out.history.push_back({*s, get_time(i, "StopTime")});
    }
  }
  return true;
}

} // namespace

// -- rendering --------------------------------------------------------------

void append_metadata(std::string& out, const metadata& m) {
  out.push_back('{');
  bool first = true;
  for (auto& [k, v] : m) {
    if (!first)
      out.push_back(',');
    first = false;
    append_json_string(out, k);
    out.push_back(':');
    append_json_string(out, v);
  }
  out.push_back('}');
}

void append_recording(std::string& out, const recording& r) {
  out += "{\"RecordingIdentifier\":";
  append_json_string(out, r.id);
  out += ",\"Kind\":\"";
  out += to_string(r.kind);
  out += "\",\"IsDuplicate\":";
  out += r.kind == recording_kind::duplicate ? "true" : "false";
  out += ",\"RecordingState\":\"";
  out += to_string(r.state);
  out += "\",\"AgentId\":";
  out += std::to_string(r.agent_id);
  out += ",\"CallInstance\":";
  append_str_or_null(out, r.call_instance);
  out += ",\"CallIdentifier\":";
  append_str_or_null(out, r.call_identifier);
  out += ",\"StartTime\":";
  append_time_or_null(out, r.start);
  out += ",\"StopTime\":";
  append_time_or_null(out, r.stop);
  out += ",\"StopReason\":";
  append_str_or_null(out, to_string(r.reason));
  out += ",\"Metadata\":";
  append_metadata(out, r.meta);
  out += ",\"Blackouts\":";
  append_array(out, r.blackouts, append_interval);
  out += ",\"ServerId\":";
  append_str_or_null(out, r.server_id);
  out.push_back('}');
}

namespace {

/// A call, its recordings written by `rec` (in full, or by id when stored).
template <class F>
void append_call_with(std::string& out, const call& c, F&& rec) {
  out += "{\"CallInstance\":";
  append_json_string(out, c.call_id);
  out += ",\"CallIdentifier\":";
  append_str_or_null(out, c.call_identifier);
  out += ",\"CallState\":\"";
  out += to_string(c.state);
  out += "\",\"StartTime\":";
  append_time_or_null(out, c.start);
  out += ",\"Recordings\":";
  append_array(out, c.recordings, rec);
  out += ",\"Metadata\":";
  append_metadata(out, c.meta);
  out.push_back('}');
}

} // namespace

void append_call(std::string& out, const call& c) {
  append_call_with(out, c, append_recording);
}

void append_blackout(std::string& out, const blackout_state& b,
                     bool with_history) {
  out += "{\"Active\":";
  out += b.active ? "true" : "false";
  out += ",\"StartTime\":";
  append_time_or_null(out, b.start);
  out += ",\"StopTime\":";
  append_time_or_null(out, b.stop);
  out += ",\"ScheduledStopTime\":";
  append_time_or_null(out, b.scheduled_stop);
  out += ",\"Origin\":";
  append_str_or_null(out, b.origin);
  out += ",\"ScheduledStartTime\":";
  append_time_or_null(out, b.scheduled_start);
  if (with_history) {
    // Internal, never rendered: [start, stop] pairs in epoch milliseconds
    // (formatting 16 ISO times per change cost more than the rest of the
    // live state). Older values hold {"StartTime","StopTime"} objects.
    out += ",\"History\":";
    append_array(out, b.history, [](std::string& o, const interval& i) {
      o.push_back('[');
      append_integer(o, i.start);
      o.push_back(',');
      if (i.stop)
        append_integer(o, *i.stop);
      else
        o += "null";
      o.push_back(']');
    });
    out += ",\"Version\":{\"Wall\":";
    append_integer(out, b.version.wall);
    out += ",\"Logical\":";
    append_integer(out, b.version.logical);
    out.push_back('}');
  }
  out.push_back('}');
}

namespace {

void append_live_calls(std::string& out, const agent_live& live) {
  out += "\"ActiveCall\":";
  if (live.active_call)
    append_call(out, *live.active_call);
  else
    out += "null";
  out += ",\"InactiveCalls\":";
  append_array(out, live.inactive_calls, append_call);
}

void append_desktop(std::string& out, const agent_live& live) {
  out += "\"DesktopOnlySessions\":";
  out.push_back('[');
  if (live.desktop_session)
    append_recording(out, *live.desktop_session);
  out.push_back(']');
}

} // namespace

namespace {

/// The profile fields before the live ones, in the vendor's order.
void append_profile_head(std::string& out, const agent_profile& p) {
  out += "{\"AgentId\":";
  out += std::to_string(p.id);
  out += ",\"BusinessUnit\":";
  append_int_or_null(out, p.business_unit);
  out += ",\"AgentPhone\":";
  append_str_or_null(out, p.phone);
  out += ",\"SystemUsername\":";
  append_str_or_null(out, p.system_username);
  out += ",\"CrmUsername\":";
  append_str_or_null(out, p.crm_username);
}

/// The profile fields after the calls, in the vendor's order.
void append_profile_tail(std::string& out, const agent_profile& p) {
  out += ",\"Username\":";
  append_str_or_null(out, p.username);
  out += ",\"DeviceId\":";
  append_int_or_null(out, p.device_id);
  out += ",\"DeviceAlias\":";
  append_str_or_null(out, p.device_alias);
}

} // namespace

void append_agent(std::string& out, const agent_profile& p,
                  const agent_live& live) {
  append_profile_head(out, p);
  out.push_back(',');
  append_live_calls(out, live);
  append_profile_tail(out, p);
  out.push_back(',');
  append_desktop(out, live);
  out += ",\"Blackout\":";
  append_blackout(out, live.blackout);
  out.push_back('}');
}

std::string render_recording(const recording& r) {
  std::string out;
  out.reserve(512);
  append_recording(out, r);
  return out;
}

std::string render_blackout(const blackout_state& b) {
  std::string out;
  append_blackout(out, b);
  return out;
}

// -- persisted values -------------------------------------------------------

std::string encode_profile(const agent_profile& p) {
  std::string out;
  append_profile_head(out, p);
  append_profile_tail(out, p);
  out.push_back('}');
  return out;
}

namespace {

void append_recording_ref(std::string& out, const recording& r) {
  append_json_string(out, r.id);
}

void append_call_skeleton(std::string& out, const call& c) {
  append_call_with(out, c, append_recording_ref);
}

} // namespace

std::string encode_live(const agent_live& live, live_form form,
                        live_render_cache* cache) {
  const bool refs = form == live_form::stored;
  auto rec = refs ? append_recording_ref : append_recording;
  std::string out;
  // A working agent's stored state is about 1.3 KB (a call, eight recent
  // recordings and blackouts): one allocation rather than three.
  out.reserve(refs ? 2048 : 4096);
  out += "{\"ActiveCall\":";
  if (!live.active_call)
    out += "null";
  else if (refs)
    append_call_skeleton(out, *live.active_call);
  else
    append_call(out, *live.active_call);
  out += ",\"InactiveCalls\":";
  append_array(out, live.inactive_calls, refs ? append_call_skeleton : append_call);
  out += ",\"DesktopOnlySessions\":[";
  if (live.desktop_session)
    rec(out, *live.desktop_session);
  out += "],\"Blackout\":";
  if (cache == nullptr || !refs) {
    append_blackout(out, live.blackout, true);
  } else if (cache->blackout_valid && cache->blackout == live.blackout) {
    out += cache->blackout_json;
  } else {
    const auto at = out.size();
    append_blackout(out, live.blackout, true);
    cache->blackout_json.assign(out, at, std::string::npos);
    cache->blackout = live.blackout;
    cache->blackout_valid = true;
  }
  out += ",\"Recent\":";
  if (cache == nullptr || !refs) {
    append_array(out, live.recent, rec);
  } else if (cache->recent_valid && cache->recent == live.recent.buffer()) {
    out += cache->recent_json;
  } else {
    const auto at = out.size();
    append_array(out, live.recent, rec);
    cache->recent_json.assign(out, at, std::string::npos);
    cache->recent = live.recent.buffer();
    cache->recent_valid = true;
  }
  out.push_back('}');
  return out;
}

bool decode_recording(const json_value& v, recording& out) {
  if (!v.is_object())
    return false;
  out.id = get_str(v, "RecordingIdentifier");
  auto kind = parse_recording_kind(get_str(v, "Kind"));
  auto start = get_time(v, "StartTime");
  if (out.id.empty() || !kind || !start)
    return false;
  out.kind = *kind;
  out.state = iequals(get_str(v, "RecordingState"), "Completed")
                ? recording_state::completed
                : recording_state::recording;
  out.agent_id = parse_int(get_str(v, "AgentId")).value_or(0);
  out.call_instance = get_str(v, "CallInstance");
  out.call_identifier = get_str(v, "CallIdentifier");
  out.start = *start;
  out.stop = get_time(v, "StopTime");
  out.reason = parse_stop_reason(get_str(v, "StopReason"))
                 .value_or(stop_reason::none);
  if (!decode_metadata(member_ci(v, "Metadata"), out.meta))
    return false;
  out.blackouts.clear();
  if (auto* b = member_ci(v, "Blackouts"); b && b->is_array()) {
    for (auto& i : b->items) {
      auto s = get_time(i, "StartTime");
      if (!s)
        return false;
      out.blackouts.push_back({*s, get_time(i, "StopTime")});
    }
  }
  out.server_id = get_str(v, "ServerId");
  return true;
}

bool decode_recording(std::string_view text, recording& out) {
  json_value v;
  json_parse_error err;
  return parse_json(text, v, err) && decode_recording(v, out);
}

bool decode_live(std::string_view text, agent_live& out,
                 const recording_lookup& lookup) {
  json_value v;
  json_parse_error err;
  if (!parse_json(text, v, err) || !v.is_object())
    return false;
  out = agent_live{};
  if (auto* ac = member_ci(v, "ActiveCall"); ac && !ac->is_null()) {
    out.active_call.emplace();
    if (!decode_call(*ac, *out.active_call, lookup))
      return false;
  }
  if (auto* ic = member_ci(v, "InactiveCalls"); ic && ic->is_array()) {
    for (auto& c : ic->items) {
      out.inactive_calls.emplace_back();
      if (!decode_call(c, out.inactive_calls.back(), lookup))
        return false;
    }
  }
  if (auto* d = member_ci(v, "DesktopOnlySessions");
      d && d->is_array() && !d->items.empty()) {
    out.desktop_session.emplace();
    if (!decode_recording_ref(d->items.front(), *out.desktop_session,
                              lookup))
      return false;
  }
  if (auto* r = member_ci(v, "Recent"); r && r->is_array()) {
    for (auto& x : r->items) {
      if (!decode_recording_ref(x, out.recent.emplace_back(), lookup))
        return false;
    }
  }
  return decode_blackout_ptr(member_ci(v, "Blackout"), out.blackout);
}

bool decode_blackout(const json_value& v, blackout_state& out) {
  return v.is_object() && decode_blackout_ptr(&v, out);
}

namespace {

/// Reads an optional integer field; a JSON number or numeric string.
bool read_int_field(const json_value& v, std::string_view name,
                    std::optional<std::int64_t>& out, std::string& error) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  if (v.is_number() || v.is_string()) {
    if (auto n = parse_signed_int(v.text)) {
      out = *n;
      return true;
    }
  }
  error = std::string(name) + " must be an integer";
  return false;
}

bool read_text_field(const json_value& v, std::string_view name,
                     std::string& out, std::string& error) {
  if (v.is_null()) {
    out.clear();
    return true;
  }
  if (v.is_string() || v.is_number()) {
    if (v.text.size() > 256) {
      error = std::string(name) + " is longer than 256 bytes";
      return false;
    }
    out = v.text;
    return true;
  }
  error = std::string(name) + " must be a string";
  return false;
}

} // namespace

bool decode_profile(const json_value& v, agent_profile& out, std::string& error,
                    std::int64_t id_from_path) {
  if (!v.is_object()) {
    error = "an agent must be a JSON object";
    return false;
  }
  out = agent_profile{};
  std::optional<std::int64_t> id;
  // Each field once, whatever its spelling or alias: two values for one
  // field are ambiguous.
  std::vector<const char*> seen;
  auto once = [&](const char* field, const std::string& key) {
    for (auto* s : seen)
      if (s == field) {
        error = std::string(field) + " is given twice (again as '" + key
                + "')";
        return false;
      }
    seen.push_back(field);
    return true;
  };
  for (auto& [key, val] : v.members) {
    bool ok = true;
    const char* field = nullptr;
    if (iequals(key, "AgentId") || iequals(key, "Id"))
      field = "AgentID";
    else if (iequals(key, "BusinessUnit"))
      field = "BusinessUnit";
    else if (iequals(key, "AgentPhone") || iequals(key, "Phone"))
      field = "AgentPhone";
    else if (iequals(key, "SystemUsername"))
      field = "SystemUsername";
    else if (iequals(key, "CrmUsername"))
      field = "CrmUsername";
    else if (iequals(key, "Username"))
      field = "Username";
    else if (iequals(key, "DeviceId"))
      field = "DeviceId";
    else if (iequals(key, "DeviceAlias"))
      field = "DeviceAlias";
    if (field != nullptr && !once(field, key))
      return false;
    if (iequals(key, "AgentId") || iequals(key, "Id")) {
      ok = read_int_field(val, "AgentID", id, error);
    } else if (iequals(key, "BusinessUnit")) {
      ok = read_int_field(val, "BusinessUnit", out.business_unit, error);
    } else if (iequals(key, "AgentPhone") || iequals(key, "Phone")) {
      ok = read_text_field(val, "AgentPhone", out.phone, error);
    } else if (iequals(key, "SystemUsername")) {
      ok = read_text_field(val, "SystemUsername", out.system_username, error);
    } else if (iequals(key, "CrmUsername")) {
      ok = read_text_field(val, "CrmUsername", out.crm_username, error);
    } else if (iequals(key, "Username")) {
      ok = read_text_field(val, "Username", out.username, error);
    } else if (iequals(key, "DeviceId")) {
      ok = read_int_field(val, "DeviceId", out.device_id, error);
    } else if (iequals(key, "DeviceAlias")) {
      ok = read_text_field(val, "DeviceAlias", out.device_alias, error);
    } else if (iequals(key, "ActiveCall") || iequals(key, "InactiveCalls")
               || iequals(key, "DesktopOnlySessions")
               || iequals(key, "Blackout")) {
      // Live state in a copied GET response: not provisioned, ignored.
    } else {
      error = "unknown agent field '" + key + "'";
      return false;
    }
    if (!ok)
      return false;
  }
  if (id_from_path != 0) {
    if (id && *id != id_from_path) {
      error = "AgentID " + std::to_string(*id)
              + " in the body does not match AgentID "
              + std::to_string(id_from_path) + " in the path";
      return false;
    }
    id = id_from_path;
  }
  if (!id) {
    error = "AgentID is required";
    return false;
  }
  if (*id <= 0) {
    error = "AgentID must be an integer greater than 0";
    return false;
  }
  out.id = *id;
  return true;
}

} // namespace rapi
