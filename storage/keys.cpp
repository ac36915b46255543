#include "storage/keys.hpp"

#include <limits>

namespace rapi::keys {

namespace {

/// Appends `v` as 16 lower-case hex digits.
void append_hex16(std::string& out, std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4)
    buf[i] = digits[v & 0xf];
  out.append(buf, sizeof buf);
}

std::uint64_t inverted(std::int64_t start_ms) {
  return static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()
                                    - start_ms);
}

// Keys are built on every change: each in one allocation.

std::string prefixed_hex(std::string_view prefix, std::uint64_t v) {
  std::string out;
  out.reserve(prefix.size() + 16);
  out += prefix;
  append_hex16(out, v);
  return out;
}

/// `<inv start>:<inv seq>:<id>` after `out`'s prefix.
void append_index_tail(std::string& out, std::int64_t start_ms,
                       std::uint64_t seq, std::string_view id) {
  append_hex16(out, inverted(start_ms));
  out.push_back(':');
  append_hex16(out, ~seq);
  out.push_back(':');
  out += id;
}

} // namespace

std::string hex16(std::uint64_t v) {
  return prefixed_hex({}, v);
}

std::string profile(std::int64_t agent_id) {
  return prefixed_hex("p:", static_cast<std::uint64_t>(agent_id));
}

std::string live(std::int64_t agent_id) {
  return prefixed_hex("a:", static_cast<std::uint64_t>(agent_id));
}

std::string recording(std::string_view id) {
  std::string out;
  out.reserve(2 + id.size());
  out += "r:";
  out += id;
  return out;
}

std::string by_time(std::int64_t start_ms, std::uint64_t seq,
                    std::string_view id) {
  std::string out;
  out.reserve(2 + 34 + 1 + id.size());
  out += time_prefix;
  append_index_tail(out, start_ms, seq, id);
  return out;
}

std::string agent_prefix(std::int64_t agent_id) {
  std::string out =
    prefixed_hex(agent_index_prefix, static_cast<std::uint64_t>(agent_id));
  out.push_back(':');
  return out;
}

std::string by_agent(std::int64_t agent_id, std::int64_t start_ms,
                     std::uint64_t seq, std::string_view id) {
  std::string out;
  out.reserve(2 + 17 + 34 + 1 + id.size());
  out += agent_index_prefix;
  append_hex16(out, static_cast<std::uint64_t>(agent_id));
  out.push_back(':');
  append_index_tail(out, start_ms, seq, id);
  return out;
}

std::string_view id_of_index_key(std::string_view key) {
  auto pos = key.rfind(':');
  return pos == std::string_view::npos ? key : key.substr(pos + 1);
}

} // namespace rapi::keys
