#pragma once

/// The domain model: plain values an agent actor owns and persists.
/// Nothing here knows about CAF, HTTP or RocksDB.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time_util.hpp"

namespace rapi {

/// A vector whose copies share one buffer until one of them is changed
/// (copy on write). The actor publishes a copy of its live state after
/// every change; the recent recordings and metadata rarely change, so the
/// copies share them instead of duplicating a few KB of strings per request.
/// Reading never copies; `edit()` copies first when the buffer is shared.
/// Thread safety: a buffer another thread can read is always shared with
/// the published snapshot that thread reads it from, so `edit()` copies
/// it; only a buffer made during the change in progress is edited in place.
template <class T>
class shared_vector {
public:
  using value_type = T;
  using const_iterator = typename std::vector<T>::const_iterator;

  shared_vector() = default;
  shared_vector(std::initializer_list<T> items) {
    if (items.size() != 0)
      items_ = std::make_shared<std::vector<T>>(items);
  }

  const std::vector<T>& get() const {
    static const std::vector<T> none;
    return items_ ? *items_ : none;
  }
  /// The vector to change, unshared first.
  std::vector<T>& edit() {
    if (!items_)
      items_ = std::make_shared<std::vector<T>>();
    else if (items_.use_count() > 1)
      items_ = std::make_shared<std::vector<T>>(*items_);
    return *items_;
  }

  const_iterator begin() const { return get().begin(); }
  const_iterator end() const { return get().end(); }
  std::size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const T& operator[](std::size_t i) const { return get()[i]; }
  const T& front() const { return get().front(); }
  const T& back() const { return get().back(); }
  void push_back(T x) { edit().push_back(std::move(x)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    return edit().emplace_back(std::forward<Args>(args)...);
  }
  void clear() { items_.reset(); }
  /// The buffer (null when empty): while a holder keeps it, `edit` copies
  /// rather than change it, so the same buffer means the same items.
  std::shared_ptr<const void> buffer() const { return items_; }

  /// Equal items; copies that share their buffer are equal at once.
  bool operator==(const shared_vector& o) const {
    return items_ == o.items_ || get() == o.get();
  }
  bool operator!=(const shared_vector& o) const { return !(*this == o); }

private:
  std::shared_ptr<std::vector<T>> items_;
};

/// Metadata keeps the order in which keys first arrived (the vendor's own
/// samples list `ani`, `dnis`, `calldirection`, then user fields). A call's
/// recordings carry its metadata, and the actor publishes a copy of its
/// state after every change: they all share one buffer until it changes.
using metadata = shared_vector<std::pair<std::string, std::string>>;

/// Sets `key` to `value`, appending new keys at the end.
void merge_metadata(metadata& into, const metadata& from);

// -- agents -----------------------------------------------------------------

/// The provisioned identity of an agent. Empty strings and empty optionals
/// are "not set" and render as JSON null.
struct agent_profile {
  std::int64_t id = 0;
  std::optional<std::int64_t> business_unit;
  std::string phone;
  std::string system_username;
  std::string crm_username;
  std::string username;
  std::optional<std::int64_t> device_id;
  std::string device_alias;

  bool operator==(const agent_profile& other) const;
};

// -- recordings -------------------------------------------------------------

enum class recording_kind : std::uint8_t { audio, duplicate, screen };
enum class recording_state : std::uint8_t { recording, completed };
enum class stop_reason : std::uint8_t { none, api, call_ended, agent_removed };

const char* to_string(recording_kind k);
const char* to_string(recording_state s);
const char* to_string(stop_reason r);
std::optional<recording_kind> parse_recording_kind(std::string_view s);
std::optional<stop_reason> parse_stop_reason(std::string_view s);

/// A part of a recording that must be redacted; `stop` is empty while the
/// blackout still runs.
struct interval {
  timestamp start = 0;
  std::optional<timestamp> stop;

  bool operator==(const interval& o) const {
    return start == o.start && stop == o.stop;
  }
};

struct recording {
  std::string id;
  recording_kind kind = recording_kind::audio;
  recording_state state = recording_state::recording;
  std::int64_t agent_id = 0;
  std::string call_instance;   ///< empty for a desktop-only screen session
  std::string call_identifier; ///< empty when the call has none
  timestamp start = 0;
  std::optional<timestamp> stop;
  stop_reason reason = stop_reason::none;
  metadata meta;
  std::vector<interval> blackouts;
  std::string server_id;
  /// Creation order on this server, for a stable newest-first index among
  /// recordings started in the same millisecond. Not rendered or stored.
  std::uint64_t seq = 0;

  bool running() const { return state == recording_state::recording; }
};

// -- calls ------------------------------------------------------------------

enum class call_state : std::uint8_t { on_call, on_hold, parked };

const char* to_string(call_state s);
std::optional<call_state> parse_call_state(std::string_view s);

struct call {
  std::string call_id;         ///< the telephony id, shown as CallInstance
  std::string call_identifier; ///< the integration's label, may be empty
  call_state state = call_state::on_call;
  timestamp start = 0;
  metadata meta;
  /// Recordings of this call, running and completed, oldest first.
  std::vector<recording> recordings;

  /// True when `key` names this call (CallIdentifier or CallId).
  bool named(std::string_view key) const {
    return (!call_identifier.empty() && call_identifier == key)
           || call_id == key;
  }
};

// -- blackouts --------------------------------------------------------------

/// A hybrid logical clock reading: wall milliseconds plus a counter for
/// events within one millisecond (or while the wall clock lags a peer's).
/// Blackout changes are ordered by (stamp, origin server id), last writer
/// wins, on every server alike.
struct hlc_stamp {
  std::int64_t wall = 0;
  std::uint32_t logical = 0;

  bool operator==(const hlc_stamp& o) const {
    return wall == o.wall && logical == o.logical;
  }
  bool operator<(const hlc_stamp& o) const {
    return wall < o.wall || (wall == o.wall && logical < o.logical);
  }
};

/// The agent's blackout: at most one running or scheduled at a time. The
/// whole value travels in cluster messages, so it is self-contained.
struct blackout_state {
  bool active = false;
  /// Start of the running blackout, or of the last one.
  std::optional<timestamp> start;
  /// Stop of the last blackout (empty while one runs).
  std::optional<timestamp> stop;
  /// A start armed for the future.
  std::optional<timestamp> scheduled_start;
  /// A stop armed for the future.
  std::optional<timestamp> scheduled_stop;
  /// The server id where the last change was made.
  std::string origin;
  /// Recent finished blackouts (start, stop), oldest first. Recordings'
  /// `Blackouts` are derived from these plus the running one, so that a
  /// retroactive start or stop can never cut into another blackout's
  /// interval. Persisted, not rendered.
  std::vector<interval> history;
  /// When the last change was made (with `origin`, its total order).
  hlc_stamp version;

  /// Equal state, whatever the versions.
  bool same_state(const blackout_state& o) const;
  bool operator==(const blackout_state& o) const;
  /// True when this state's change is ordered after `o`'s.
  bool newer_than(const blackout_state& o) const {
    if (o.version < version)
      return true;
    if (version < o.version)
      return false;
    return origin > o.origin;
  }
};

// -- the agent actor's state ------------------------------------------------

/// Everything an agent actor owns apart from its profile.
struct agent_live {
  std::optional<call> active_call;
  std::vector<call> inactive_calls;
  /// A screen recording started while the agent was on no call.
  std::optional<recording> desktop_session;
  blackout_state blackout;
  /// Recently completed recordings no longer on a live call, kept so that a
  /// retroactive blackout start or stop can still correct their intervals.
  /// Persisted, never rendered in the agent object. Shared between the
  /// actor's state and its published snapshots until it changes.
  shared_vector<recording> recent;
};

} // namespace rapi
