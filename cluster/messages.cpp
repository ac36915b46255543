#include "cluster/messages.hpp"

#include "actors/codec.hpp"
#include "common/json_value.hpp"
#include "common/uuid.hpp"

namespace rapi::cluster {

namespace {

std::string header(const char* type, const std::string& origin) {
  std::string out = "{\"V\":1,\"Type\":\"";
  out += type;
  out += "\",\"EventId\":";
  append_json_string(out, make_uuid());
  out += ",\"Origin\":";
  append_json_string(out, origin);
  return out;
}

} // namespace

std::string encode_blackout(const std::string& origin, std::int64_t agent_id,
                            const blackout_state& b) {
  auto out = header("Blackout", origin);
  out += ",\"AgentId\":" + std::to_string(agent_id) + ",\"Blackout\":";
  append_blackout(out, b, true);
  out.push_back('}');
  return out;
}

std::string encode_control(const std::string& origin, message_type type) {
  auto out = header(type == message_type::sync_request ? "SyncRequest"
                                                       : "Hello",
                    origin);
  out.push_back('}');
  return out;
}

std::optional<message> decode(std::string_view body) {
  json_value v;
  json_parse_error err;
  if (!parse_json(body, v, err) || !v.is_object())
    return std::nullopt;
  message m;
  auto text = [&](const char* key) -> std::string {
    auto* x = v.find(key);
    return x && (x->is_string() || x->is_number()) ? x->text : std::string{};
  };
  auto ver = parse_int(text("V"));
  if (!ver)
    return std::nullopt;
  m.event_id = text("EventId");
  m.origin = text("Origin");
  if (m.origin.empty())
    return std::nullopt;
  if (*ver > wire_version)
    return m; // a newer peer: type stays unknown
  auto type = text("Type");
  if (type == "Blackout") {
    auto id = parse_int(text("AgentId"));
    auto* b = v.find("Blackout");
    if (!id || !b || !decode_blackout(*b, m.blackout))
      return std::nullopt;
    m.agent_id = *id;
    m.type = message_type::blackout;
  } else if (type == "SyncRequest") {
    m.type = message_type::sync_request;
  } else if (type == "Hello") {
    m.type = message_type::hello;
  }
  return m;
}

} // namespace rapi::cluster
