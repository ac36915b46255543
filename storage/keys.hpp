#pragma once

/// The key layout of the store. Version 2:
///
/// | key                                   | value                          |
/// |---------------------------------------|--------------------------------|
/// | `m:layout`                            | layout version, decimal ("2")  |
/// | `p:<agent:16 hex>`                    | agent profile (JSON)           |
/// | `a:<agent:16 hex>`                    | agent live state (JSON): calls,|
/// |                                       | desktop session, blackout,     |
/// |                                       | recent — recordings by id only |
/// | `r:<recording uuid>`                  | recording (JSON, API shape)    |
/// | `t:<inv start>:<inv seq>:<uuid>`      | "" — all recordings, newest    |
/// |                                       | first                          |
/// | `g:<agent:16 hex>:<inv start>:<inv    | "" — one agent's recordings,   |
/// | seq>:<uuid>`                          | newest first                   |
/// | `o:<sequence:16 hex>`                 | a blackout change the cluster  |
/// |                                       | has not yet published          |
///
/// `inv start` is `INT64_MAX - StartTime(ms)` and `inv seq` is
/// `UINT64_MAX - creation sequence`, both 16 hex digits, so that a forward
/// scan yields the newest recording first, in creation order within one
/// millisecond. Hex is lower-case and zero-padded so that
/// byte order is numeric order. Layout 1 differed only in `a:` values,
/// which held every recording in full; they are still read, and a layout 1
/// folder is marked 2 at the first start. See storage/README.md.

#include <cstdint>
#include <string>
#include <string_view>

namespace rapi::keys {

constexpr int layout_version = 2;
constexpr std::string_view layout = "m:layout";

std::string hex16(std::uint64_t v);
std::string profile(std::int64_t agent_id);
std::string live(std::int64_t agent_id);
std::string recording(std::string_view id);
std::string by_time(std::int64_t start_ms, std::uint64_t seq,
                    std::string_view id);
std::string by_agent(std::int64_t agent_id, std::int64_t start_ms,
                     std::uint64_t seq, std::string_view id);
/// The prefix of one agent's `g:` keys.
std::string agent_prefix(std::int64_t agent_id);
/// The recording id at the end of a `t:` or `g:` key.
std::string_view id_of_index_key(std::string_view key);

constexpr std::string_view profile_prefix = "p:";
constexpr std::string_view live_prefix = "a:";
constexpr std::string_view time_prefix = "t:";
constexpr std::string_view agent_index_prefix = "g:";
constexpr std::string_view outbox_prefix = "o:";

} // namespace rapi::keys
