#include "actors/directory.hpp"

#include <unordered_set>

#include "common/json_value.hpp"

namespace rapi {

std::optional<id_kind> parse_id_kind(std::string_view s) {
  // "Agent ID" is how the vendor's parameter list spells it.
  if (iequals(s, "Id") || iequals(s, "AgentId") || iequals(s, "Agent ID"))
    return id_kind::id;
  if (iequals(s, "Phone") || iequals(s, "AgentPhone"))
    return id_kind::phone;
  if (iequals(s, "CrmUsername"))
    return id_kind::crm_username;
  if (iequals(s, "SystemUsername"))
    return id_kind::system_username;
  if (iequals(s, "Username"))
    return id_kind::username;
  return std::nullopt;
}

const char* to_string(id_kind k) {
  switch (k) {
    case id_kind::id:
      return "Id";
    case id_kind::phone:
      return "Phone";
    case id_kind::crm_username:
      return "CrmUsername";
    case id_kind::system_username:
      return "SystemUsername";
    case id_kind::username:
      return "Username";
  }
  return "";
}

std::string index_key(id_kind k, std::string_view value) {
  switch (k) {
    case id_kind::id: {
      // "Id matches numerically" (contract §2): 2, "2", "+2", "02", 2.0
      // and 2e0 all name agent 2.
      auto n = parse_whole_number(value);
      if (!n || *n <= 0)
        return {};
      return "i" + std::to_string(*n);
    }
    case id_kind::phone:
      return value.empty() ? std::string{} : "p" + std::string(value);
    case id_kind::crm_username:
      return value.empty() ? std::string{} : "c" + to_lower(value);
    case id_kind::system_username:
      return value.empty() ? std::string{} : "s" + to_lower(value);
    case id_kind::username:
      return value.empty() ? std::string{} : "u" + to_lower(value);
  }
  return {};
}

std::mutex& agent_entry::spawn_mtx() const {
  static std::array<std::mutex, 256> pool;
  return pool[static_cast<std::uint64_t>(id_) % pool.size()];
}

std::vector<std::string> identity_keys(const agent_profile& p) {
  std::vector<std::string> keys;
  keys.push_back("i" + std::to_string(p.id));
  auto add = [&](id_kind k, const std::string& v) {
    if (!v.empty())
      keys.push_back(index_key(k, v));
  };
  add(id_kind::phone, p.phone);
  add(id_kind::crm_username, p.crm_username);
  add(id_kind::system_username, p.system_username);
  add(id_kind::username, p.username);
  return keys;
}

namespace {

/// Names an index key for a conflict message.
std::string describe_key(const std::string& key, const agent_profile& p) {
  switch (key[0]) {
    case 'p':
      return "AgentPhone '" + p.phone + "'";
    case 'c':
      return "CrmUsername '" + p.crm_username + "'";
    case 's':
      return "SystemUsername '" + p.system_username + "'";
    case 'u':
      return "Username '" + p.username + "'";
    default:
      return "AgentID " + std::to_string(p.id);
  }
}

} // namespace

std::shared_ptr<const agent_live> empty_live() {
  static const auto empty = std::make_shared<const agent_live>();
  return empty;
}

directory::directory(hash_function hash) : hash_(hash) {}

std::uint64_t directory::hash_of(const std::string& key) const {
  return hash_ != nullptr ? hash_(key) : std::hash<std::string>{}(key);
}

directory::shard& directory::shard_for(std::uint64_t hash) const {
  // The high bits pick the shard; the map's buckets use the whole hash.
  return shards_[(hash >> 58) % shard_count];
}

namespace {

/// True when `e`'s profile holds the index key `key` (see index_key: a
/// kind letter, then the value, usernames in lower case).
bool holds_key(const agent_entry& e, const std::string& key) {
  std::string_view v = std::string_view(key).substr(1);
  if (key[0] == 'i')
    return v == std::to_string(e.id());
  auto p = e.profile();
  if (!p)
    return false;
  switch (key[0]) {
    case 'p':
      return v == p->phone;
    case 'c':
      return iequals(v, p->crm_username);
    case 's':
      return iequals(v, p->system_username);
    case 'u':
      return iequals(v, p->username);
    default:
      return false;
  }
}

} // namespace

agent_entry_ptr directory::lookup(const std::string& key) const {
  auto h = hash_of(key);
  auto& s = shard_for(h);
  std::shared_lock<std::shared_mutex> guard{s.mtx};
  auto [first, last] = s.map.equal_range(h);
  for (auto it = first; it != last; ++it)
    if (holds_key(*it->second, key))
      // Still owned by by_id_: an entry leaves the index before it leaves
      // by_id_, and this shard's lock keeps it from leaving the index now.
      return it->second->shared_from_this();
  return nullptr;
}

agent_entry_ptr directory::find(id_kind k, std::string_view value) const {
  auto key = index_key(k, value);
  if (key.empty())
    return nullptr;
  return lookup(key);
}

agent_entry_ptr directory::find_id(std::int64_t id) const {
  return lookup("i" + std::to_string(id));
}

std::vector<agent_entry_ptr> directory::all() const {
  std::shared_lock<std::shared_mutex> guard{order_mtx_};
  std::vector<agent_entry_ptr> out;
  out.reserve(by_id_.size());
  for (auto& [id, e] : by_id_)
    out.push_back(e);
  return out;
}

std::size_t directory::size() const {
  std::shared_lock<std::shared_mutex> guard{order_mtx_};
  return by_id_.size();
}

void directory::index_profile(const agent_profile& p, const agent_entry_ptr& e) {
  for (auto& key : identity_keys(p)) {
    auto h = hash_of(key);
    auto& s = shard_for(h);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    s.map.emplace(h, e.get());
  }
}

void directory::unindex_profile(const agent_profile& p, std::int64_t id) {
  for (auto& key : identity_keys(p)) {
    auto h = hash_of(key);
    auto& s = shard_for(h);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    auto [first, last] = s.map.equal_range(h);
    for (auto it = first; it != last; ++it)
      if (it->second->id() == id) {
        s.map.erase(it);
        break;
      }
  }
}

directory::provision_result directory::provision(
  const std::vector<agent_profile>& profiles,
  const std::function<std::string(const std::vector<agent_profile>&)>&
    persist) {
  provision_result res;
  std::lock_guard<std::mutex> guard{provision_mtx_};
  // Who owns each key once the batch is applied: batch members first.
  std::unordered_map<std::string, const agent_profile*> claimed;
  std::unordered_set<std::int64_t> in_batch;
  for (auto& p : profiles) {
    if (!in_batch.insert(p.id).second) {
      res.conflict = "AgentID " + std::to_string(p.id)
                     + " appears more than once in the request";
      return res;
    }
  }
  for (auto& p : profiles) {
    for (auto& key : identity_keys(p)) {
      auto [it, fresh] = claimed.emplace(key, &p);
      if (!fresh) {
        res.conflict = describe_key(key, p) + " is given to both AgentID "
                       + std::to_string(it->second->id) + " and AgentID "
                       + std::to_string(p.id);
        return res;
      }
      auto owner = lookup(key);
      if (owner && owner->id() != p.id && in_batch.count(owner->id()) == 0) {
        res.conflict = describe_key(key, p) + " already belongs to AgentID "
                       + std::to_string(owner->id());
        return res;
      }
      // An owner inside the batch gives the key up only if its new profile
      // no longer has it; `claimed` catches the case where it keeps it.
    }
  }
  if (auto err = persist(profiles); !err.empty()) {
    res.storage_error = err;
    return res;
  }
  // Two passes, so that identifiers may move between agents of one batch.
  std::vector<agent_entry_ptr> entries;
  entries.reserve(profiles.size());
  for (auto& p : profiles) {
    auto e = find_id(p.id);
    if (e) {
      if (auto old = e->profile())
        unindex_profile(*old, p.id);
      res.updated.push_back(e);
    }
    entries.push_back(e);
  }
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    auto& p = profiles[i];
    auto& e = entries[i];
    auto prof = std::make_shared<const agent_profile>(p);
    if (!e) {
      e = std::make_shared<agent_entry>(p.id);
      e->set_profile(prof);
      e->set_live(empty_live());
      res.created.push_back(e);
      std::unique_lock<std::shared_mutex> order{order_mtx_};
      by_id_[p.id] = e;
    } else {
      e->set_profile(prof);
    }
    index_profile(p, e);
  }
  return res;
}

void directory::unindex(std::int64_t id) {
  std::lock_guard<std::mutex> guard{provision_mtx_};
  auto e = find_id(id);
  if (!e)
    return;
  if (auto p = e->profile())
    unindex_profile(*p, id);
  std::unique_lock<std::shared_mutex> order{order_mtx_};
  by_id_.erase(id);
}

void directory::restore(const agent_entry_ptr& entry) {
  if (auto p = entry->profile())
    index_profile(*p, entry);
  std::unique_lock<std::shared_mutex> order{order_mtx_};
  by_id_.emplace_hint(by_id_.end(), entry->id(), entry);
}

void directory::reserve(std::size_t agents) {
  // Up to five identifiers per agent (Id, Phone and three usernames): room
  // for three left a restart of 1M agents with more rehashing (6 % of it).
  auto per_shard = agents * 5 / shard_count + 1;
  for (auto& s : shards_) {
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    s.map.reserve(s.map.size() + per_shard);
  }
}

} // namespace rapi
