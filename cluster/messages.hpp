#pragma once

/// The wire format of the blackout mirror, version 1 (JSON, one message
/// per AMQP publish to the fanout exchange):
///
///   {"V":1,"Type":"Blackout","EventId":"<uuid>","Origin":"<server id>",
///    "AgentId":2,"Blackout":{...the agent's resulting blackout state,
///    with "History" and "Version":{"Wall":ms,"Logical":n}...}}
///   {"V":1,"Type":"SyncRequest","EventId":...,"Origin":...}
///   {"V":1,"Type":"Hello","EventId":...,"Origin":...}
///
/// A receiver applies a Blackout message's state to the agent if it is
/// newer by (Version, Origin); a SyncRequest makes every peer publish its
/// state of every agent with a blackout; Hello only says "I am here".
/// Unknown types and newer versions ("V" > 1) are acknowledged and dropped.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/model.hpp"

namespace rapi::cluster {

constexpr int wire_version = 1;

enum class message_type : std::uint8_t { blackout, sync_request, hello, unknown };

struct message {
  message_type type = message_type::unknown;
  std::string event_id;
  std::string origin;
  std::int64_t agent_id = 0;
  blackout_state blackout;
};

std::string encode_blackout(const std::string& origin, std::int64_t agent_id,
                            const blackout_state& b);
std::string encode_control(const std::string& origin, message_type type);

/// Reads a message; nullopt when it is not one of ours at all.
std::optional<message> decode(std::string_view body);

} // namespace rapi::cluster
