#include "storage/keys.hpp"

#include <limits>

namespace rapi::keys {

std::string hex16(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

namespace {

std::string inverted(std::int64_t start_ms) {
  return hex16(static_cast<std::uint64_t>(
    std::numeric_limits<std::int64_t>::max() - start_ms));
}

} // namespace

std::string profile(std::int64_t agent_id) {
  return "p:" + hex16(static_cast<std::uint64_t>(agent_id));
}

std::string live(std::int64_t agent_id) {
  return "a:" + hex16(static_cast<std::uint64_t>(agent_id));
}

std::string recording(std::string_view id) {
  return "r:" + std::string(id);
}

std::string by_time(std::int64_t start_ms, std::uint64_t seq,
                    std::string_view id) {
  return "t:" + inverted(start_ms) + ":" + hex16(~seq) + ":" + std::string(id);
}

std::string agent_prefix(std::int64_t agent_id) {
  return "g:" + hex16(static_cast<std::uint64_t>(agent_id)) + ":";
}

std::string by_agent(std::int64_t agent_id, std::int64_t start_ms,
                     std::uint64_t seq, std::string_view id) {
  return agent_prefix(agent_id) + inverted(start_ms) + ":" + hex16(~seq) + ":"
         + std::string(id);
}

std::string_view id_of_index_key(std::string_view key) {
  auto pos = key.rfind(':');
  return pos == std::string_view::npos ? key : key.substr(pos + 1);
}

} // namespace rapi::keys
