#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/model.hpp"

namespace rapi {

/// The kinds of identifier an integration may name an agent by.
enum class id_kind : std::uint8_t { id, phone, crm_username, system_username,
                                    username };

/// Parses an `AgentIdentifier` (case-insensitive, with the aliases `AgentId`,
/// `AgentID` and `AgentPhone`).
std::optional<id_kind> parse_id_kind(std::string_view s);
const char* to_string(id_kind k);

/// The index key for `value` of kind `k`, normalised as matching requires:
/// ids numerically, usernames case-insensitively, phones exactly. Empty
/// when the value cannot match anything (a non-numeric Id).
std::string index_key(id_kind k, std::string_view value);

/// One agent as the rest of the server sees it: the owning actor plus the
/// last published profile and live state. Readers (`GET /api/Agent`,
/// GetAll) take the snapshots without a message round trip; only the
/// owning actor publishes `live`, only provisioning publishes `profile`.
class agent_entry : public std::enable_shared_from_this<agent_entry> {
public:
  explicit agent_entry(std::int64_t id) : id_(id) {}

  std::int64_t id() const { return id_; }

  std::shared_ptr<const agent_profile> profile() const {
    return std::atomic_load(&profile_);
  }
  void set_profile(std::shared_ptr<const agent_profile> p) {
    std::atomic_store(&profile_, std::move(p));
  }
  std::shared_ptr<const agent_live> live() const {
    return std::atomic_load(&live_);
  }
  void set_live(std::shared_ptr<const agent_live> l) {
    std::atomic_store(&live_, std::move(l));
  }

  /// Set once the agent is deleted; its actor answers 404 from then on.
  std::atomic<bool> removed{false};

  /// The owning actor, type-erased so this header needs no CAF. Idle
  /// agents have none until their first command (spawned under
  /// `spawn_mtx`), which keeps a million provisioned agents cheap.
  std::shared_ptr<void> actor;

  /// Guards `actor`. One of a fixed set of mutexes shared by all agents
  /// (a mutex per agent would cost 40 bytes each, a million times over).
  std::mutex& spawn_mtx() const;
  /// Commands sent to the actor and not yet being processed: its mailbox
  /// depth as operators see it (timer and commit messages not counted).
  std::atomic<std::int32_t> queued{0};

private:
  const std::int64_t id_;
  std::shared_ptr<const agent_profile> profile_;
  std::shared_ptr<const agent_live> live_;
};

using agent_entry_ptr = std::shared_ptr<agent_entry>;

/// The one shared live state of every agent that never had a call.
std::shared_ptr<const agent_live> empty_live();

/// Maps every identifier of every agent to its entry.
///
/// Lookups are on the hot path: the index is split into shards, each behind
/// its own reader-writer lock, so concurrent requests never contend on one
/// lock. Provisioning is rare and serialised by one mutex, which also makes
/// the uniqueness check and the index update one atomic step.
class directory {
public:
  /// How index keys are hashed; tests pass one that collides on purpose.
  using hash_function = std::uint64_t (*)(const std::string&);

  explicit directory(hash_function hash = nullptr);

  agent_entry_ptr find(id_kind k, std::string_view value) const;
  agent_entry_ptr find_id(std::int64_t id) const;

  /// Every agent, ordered by AgentID.
  std::vector<agent_entry_ptr> all() const;
  std::size_t size() const;

  struct provision_result {
    /// Non-empty: a uniqueness conflict (409) or storage failure (500).
    std::string conflict;
    std::string storage_error;
    std::vector<agent_entry_ptr> created;
    std::vector<agent_entry_ptr> updated;
  };

  /// Creates or updates `profiles` as one atomic step: checks that every
  /// identifier stays unique, calls `persist` (which must make the profiles
  /// durable, returning an error sentence or ""), then publishes them. New
  /// agents get no actor until their first command.
  provision_result
  provision(const std::vector<agent_profile>& profiles,
            const std::function<std::string(const std::vector<agent_profile>&)>&
              persist);

  /// Drops `id` from every index (after its actor removed it).
  void unindex(std::int64_t id);

  /// Adds a restored agent without checks (start-up only; entries should
  /// come in AgentID order).
  void restore(const agent_entry_ptr& entry);

  /// Makes room for `agents` agents at once (start-up), so that recovery
  /// does not rehash the index over and over.
  void reserve(std::size_t agents);

private:
  static constexpr std::size_t shard_count = 64;
  /// An index key's hash to the agents holding a key with that hash:
  /// almost always one, checked against the agent's profile on lookup.
  /// Keeping hashes and plain pointers (every entry is owned by `by_id_`
  /// while it is indexed) instead of the keys and shared pointers takes
  /// the index from ~90 to ~40 bytes per identifier, which matters at a
  /// million agents with five identifiers each.
  struct shard {
    mutable std::shared_mutex mtx;
    std::unordered_multimap<std::uint64_t, agent_entry*> map;
  };

  std::uint64_t hash_of(const std::string& key) const;
  shard& shard_for(std::uint64_t hash) const;
  agent_entry_ptr lookup(const std::string& key) const;
  void index_profile(const agent_profile& p, const agent_entry_ptr& e);
  void unindex_profile(const agent_profile& p, std::int64_t id);

  hash_function hash_ = nullptr;
  mutable std::array<shard, shard_count> shards_;
  std::mutex provision_mtx_;
  mutable std::shared_mutex order_mtx_;
  std::map<std::int64_t, agent_entry_ptr> by_id_;
};

/// The identifier keys a profile occupies.
std::vector<std::string> identity_keys(const agent_profile& p);

} // namespace rapi
