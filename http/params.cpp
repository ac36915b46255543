#include "http/params.hpp"

namespace rapi {

http_error bad_request(std::string code, std::string message) {
  return {400, std::move(code), std::move(message)};
}

http_error not_found(std::string code, std::string message) {
  return {404, std::move(code), std::move(message)};
}

namespace {

const json_value* member_ci(const json_value& obj, std::string_view name) {
  for (auto& [k, v] : obj.members)
    if (iequals(k, name))
      return v.is_null() ? nullptr : &v;
  return nullptr;
}

/// Rejects an object where two keys differ only in case: which one the
/// client meant is a guess we refuse to make.
http_error check_ci_duplicates(const json_value& obj) {
  for (std::size_t i = 0; i < obj.members.size(); ++i)
    for (std::size_t j = i + 1; j < obj.members.size(); ++j)
      if (iequals(obj.members[i].first, obj.members[j].first))
        return bad_request("InvalidJson",
                           "the parameter '" + obj.members[j].first
                             + "' is given twice");
  return {};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Replaces U+201C and U+201D with '"'.
std::string straighten_quotes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i + 2 < s.size() && s[i] == '\xE2' && s[i + 1] == '\x80'
        && (s[i + 2] == '\x9C' || s[i + 2] == '\x9D')) {
      out.push_back('"');
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string shorten(std::string_view s) {
  if (s.size() <= 64)
    return std::string(s);
  return utf8_prefix(s, 61) + "...";
}

} // namespace

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

http_error parse_form(std::string_view s, json_value& out) {
  out = json_value{};
  out.type = json_value::kind::object;
  while (!s.empty()) {
    auto amp = s.find('&');
    auto part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    auto name = url_decode(part.substr(0, eq));
    auto value = url_decode(eq == std::string_view::npos ? std::string_view{}
                                                         : part.substr(eq + 1));
    if (!name || !value)
      return bad_request("InvalidParameter",
                         "the query string has a malformed %-escape");
    if (!valid_utf8(*name) || !valid_utf8(*value))
      return bad_request("InvalidParameter",
                         "the query string is not valid UTF-8");
    if (name->empty())
      continue; // "=x" names nothing
    // A name given twice (in any case) is ambiguous: refuse to guess, as
    // for a JSON body.
    if (member_ci(out, *name) != nullptr)
      return bad_request("InvalidParameter",
                         "the parameter '" + shorten(*name)
                           + "' is given twice");
    json_value v;
    v.type = json_value::kind::string;
    v.text = std::move(*value);
    out.members.emplace_back(std::move(*name), std::move(v));
  }
  return {};
}

http_error request_params::parse(std::string_view body, std::string_view query,
                                 std::string_view content_type) {
  if (auto err = parse_form(query, query_))
    return err;
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    body_ = json_value{};
    return {};
  }
  bool looks_json = body[first] == '{' || body[first] == '[';
  json_parse_error perr;
  if (!looks_json
      && to_lower(content_type).find("application/x-www-form-urlencoded")
           != std::string::npos) {
    // A body is JSON whatever the Content-Type (contract §2): only one that
    // is not valid JSON as sent is read as a form (`"x"` is a JSON string).
    if (parse_json(body, body_, perr))
      return {};
    return parse_form(body, body_);
  }
  if (!parse_json(body, body_, perr)) {
    // The vendor's own StopDuplicateForAgent example closes a string with a
    // typographic quote (U+201D); clients copied it. Only when the body is
    // not JSON as sent, read typographic double quotes as plain ones.
    auto fixed = straighten_quotes(body);
    json_parse_error ignored;
    if (fixed == body || !parse_json(fixed, body_, ignored))
      return bad_request("InvalidJson",
                         "the request body is not valid JSON: " + perr.message);
  }
  if (body_.is_object())
    return check_ci_duplicates(body_);
  return {};
}

const json_value* request_params::get(std::string_view name) const {
  if (body_.is_object())
    if (auto* v = member_ci(body_, name))
      return v;
  return member_ci(query_, name);
}

http_error read_text(const json_value* v, std::string_view name,
                     std::optional<std::string>& out) {
  out.reset();
  if (v == nullptr)
    return {};
  if (!v->is_string() && !v->is_number())
    return bad_request("InvalidParameter",
                       std::string(name) + " must be a string or a number");
  out = v->text;
  return {};
}

namespace {

template <class Lookup>
http_error read_selector_impl(Lookup&& get, agent_selector& out) {
  auto* kind = get("AgentIdentifier");
  auto* value = get("Value");
  if (kind == nullptr)
    return not_found("MissingParameter",
                     "the required parameter AgentIdentifier is missing");
  if (!kind->is_string())
    return bad_request("InvalidAgentIdentifier",
                       "AgentIdentifier must be a string: Id, CrmUsername, "
                       "Phone, SystemUsername or Username");
  auto k = parse_id_kind(kind->text);
  if (!k)
    return bad_request("InvalidAgentIdentifier",
                       "AgentIdentifier '" + shorten(kind->text)
                         + "' is not one of Id, CrmUsername, Phone, "
                           "SystemUsername, Username");
  if (value == nullptr)
    return not_found("MissingParameter",
                     "the required parameter Value is missing");
  if (!value->is_string() && !value->is_number())
    return bad_request("InvalidParameter",
                       "Value must be a string or a number");
  out.kind = *k;
  out.kind_text = kind->text;
  out.value = value->text;
  return {};
}

} // namespace

http_error read_selector(const request_params& p, agent_selector& out) {
  return read_selector_impl([&](std::string_view n) { return p.get(n); }, out);
}

http_error read_selector(const json_value& obj, agent_selector& out) {
  return read_selector_impl(
    [&](std::string_view n) { return member_ci(obj, n); }, out);
}

http_error agent_not_found(const agent_selector& s) {
  return not_found("AgentNotFound", "AgentIdentifier '" + shorten(s.kind_text)
                                      + "' with Value '" + shorten(s.value)
                                      + "' matched no agent");
}

namespace {

http_error read_metadata(const json_value* v, const param_limits& lim,
                         metadata& out) {
  out.clear();
  if (v == nullptr)
    return {};
  if (!v->is_object())
    return bad_request("InvalidMetadata",
                       "CallMetadata must be a JSON object of string values");
  if (v->members.size() > lim.max_metadata_keys)
    return bad_request("InvalidMetadata",
                       "CallMetadata has " + std::to_string(v->members.size())
                         + " keys; at most "
                         + std::to_string(lim.max_metadata_keys)
                         + " are allowed");
  for (auto& [key, val] : v->members) {
    auto name = "CallMetadata key '" + shorten(key) + "'";
    if (key.empty())
      return bad_request("InvalidMetadata", "CallMetadata has an empty key");
    if (key.size() > lim.max_metadata_key_bytes)
      return bad_request("InvalidMetadata",
                         name + " is longer than "
                           + std::to_string(lim.max_metadata_key_bytes)
                           + " bytes");
    if (!val.is_string() && !val.is_number())
      return bad_request("InvalidMetadata",
                         name + " must have a string or number value");
    if (val.text.size() > lim.max_metadata_value_bytes)
      return bad_request("InvalidMetadata",
                         name + " has a value longer than "
                           + std::to_string(lim.max_metadata_value_bytes)
                           + " bytes");
    if (!lim.metadata_fields.empty()) {
      bool known = false;
      for (auto& f : lim.metadata_fields)
        known = known || iequals(f, key);
      if (!known)
        return bad_request("InvalidMetadata",
                           name + " is not a configured custom field");
    }
    for (auto& [k, _] : out)
      if (k == key)
        return bad_request("InvalidMetadata", name + " is given twice");
    out.emplace_back(key, val.text);
  }
  return {};
}

} // namespace

http_error read_call_params(const request_params& p, const param_limits& lim,
                            command& cmd) {
  std::optional<std::string> cid;
  if (auto err = read_text(p.get("CallIdentifier"), "CallIdentifier", cid))
    return err;
  if (cid && cid->size() > 256)
    return bad_request("InvalidParameter",
                       "CallIdentifier is longer than 256 bytes");
  if (cid && !cid->empty())
    cmd.call_identifier = std::move(cid);
  return read_metadata(p.get("CallMetadata"), lim, cmd.call_metadata);
}

namespace {

http_error read_time_value(const json_value* v, std::string_view name,
                           const param_limits& lim,
                           std::optional<timestamp>& out) {
  out.reset();
  if (v == nullptr)
    return {};
  if (!v->is_string())
    return bad_request("InvalidTime",
                       std::string(name)
                         + " must be a date-time string such as "
                           "2026-11-30T10:15:30Z");
  auto t = parse_time(v->text, lim.zone);
  if (!t)
    return bad_request("InvalidTime",
                       std::string(name) + " '" + shorten(v->text)
                         + "' is not a date-time (ISO 8601 such as "
                           "2026-11-30T10:15:30-05:00, or "
                           "11/30/2026 10:15:30 AM -05:00)");
  out = t;
  return {};
}

} // namespace

http_error read_blackout_time(const request_params& p, const param_limits& lim,
                              bool start, timestamp received, command& cmd) {
  const char* name = start ? "BlackoutStartTime" : "BlackoutStopTime";
  std::optional<timestamp> explicit_time;
  if (auto err = read_time_value(p.get(name), name, lim, explicit_time))
    return err;
  std::optional<std::int64_t> offset;
  // With an explicit time, TimeOffset is ignored (the seed's rule), even
  // when it is malformed.
  const json_value* offset_param = explicit_time ? nullptr : p.get("TimeOffset");
  if (auto* v = offset_param) {
    std::string text = v->text;
    if (v->is_string()) {
      auto b = text.find_first_not_of(' ');
      auto e = text.find_last_not_of(' ');
      text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    }
    if (v->is_number() || v->is_string())
      offset = parse_signed_int(text);
    if (!offset)
      return bad_request("InvalidTime",
                         "TimeOffset must be a whole number of seconds, not '"
                           + shorten(v->is_string() || v->is_number()
                                       ? v->text
                                       : std::string("a non-number"))
                           + "'");
    if (*offset > lim.max_time_offset_s || *offset < -lim.max_time_offset_s)
      return bad_request("InvalidTime",
                         "TimeOffset " + std::to_string(*offset)
                           + " is outside -"
                           + std::to_string(lim.max_time_offset_s) + ".."
                           + std::to_string(lim.max_time_offset_s)
                           + " seconds");
  }
  cmd.time_given = explicit_time || offset;
  if (explicit_time)
    cmd.time = explicit_time; // the explicit time wins over TimeOffset
  else if (offset)
    cmd.time = received + *offset * 1000;
  else
    cmd.time = received;
  return {};
}

http_error read_cti_event(const json_value& obj, const param_limits& lim,
                          agent_selector& who, command& cmd) {
  if (!obj.is_object())
    return bad_request("InvalidParameter", "a CTI event must be a JSON object");
  if (auto err = check_ci_duplicates(obj))
    return err;
  if (auto err = read_selector(obj, who))
    return err;
  cmd.kind = command_kind::cti_event;
  auto& ev = cmd.event;
  auto* type = member_ci(obj, "Type");
  if (type == nullptr)
    return not_found("MissingParameter",
                     "the required parameter Type is missing");
  static constexpr cti_type types[] = {
    cti_type::call_started, cti_type::call_held, cti_type::call_parked,
    cti_type::call_retrieved, cti_type::call_ended};
  bool matched = false;
  for (auto t : types) {
    if (type->is_string() && iequals(type->text, to_string(t))) {
      ev.type = t;
      matched = true;
    }
  }
  if (!matched)
    return bad_request("InvalidParameter",
                       "Type must be one of CallStarted, CallHeld, CallParked, "
                       "CallRetrieved, CallEnded");
  std::optional<std::string> text;
  auto read = [&](std::string_view name, std::string& into) -> http_error {
    if (auto err = read_text(member_ci(obj, name), name, text))
      return err;
    if (text && text->size() > 256)
      return bad_request("InvalidParameter",
                         std::string(name) + " is longer than 256 bytes");
    into = text.value_or("");
    return {};
  };
  if (auto err = read("CallId", ev.call_id))
    return err;
  if (ev.call_id.empty())
    return not_found("MissingParameter",
                     "the required parameter CallId is missing");
  if (auto err = read("CallIdentifier", ev.call_identifier))
    return err;
  if (auto err = read("Direction", ev.direction))
    return err;
  if (auto err = read("Ani", ev.ani))
    return err;
  if (auto err = read("Dnis", ev.dnis))
    return err;
  // The vendor's own metadata spells directions with one letter.
  if (iequals(ev.direction, "Inbound") || iequals(ev.direction, "In"))
    ev.direction = "I";
  else if (iequals(ev.direction, "Outbound") || iequals(ev.direction, "Out"))
    ev.direction = "O";
  std::optional<timestamp> t;
  if (auto err = read_time_value(member_ci(obj, "Time"), "Time", lim, t))
    return err;
  ev.time = t;
  return {};
}

} // namespace rapi
