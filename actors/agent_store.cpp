#include "actors/agent_store.hpp"

#include <unordered_map>

#include "actors/codec.hpp"
#include "storage/keys.hpp"

namespace rapi {

void add_changes(write_batch& batch, std::int64_t agent_id,
                 const agent_live& live, const outcome& out,
                 live_render_cache* cache) {
  // The live state, each recording and the indexes of new ones (and a
  // removal or an outbox entry the caller may add): one allocation.
  batch.ops.reserve(batch.ops.size() + 3 + 3 * out.recordings.size());
  if (out.state_changed)
    batch.put(keys::live(agent_id),
              encode_live(live, live_form::stored, cache));
  for (auto& ch : out.recordings) {
    batch.put(keys::recording(ch.rec.id),
              ch.json.empty() ? render_recording(ch.rec) : ch.json);
    if (ch.created) {
      batch.put(keys::by_time(ch.rec.start, ch.rec.seq, ch.rec.id), {});
      batch.put(keys::by_agent(agent_id, ch.rec.start, ch.rec.seq, ch.rec.id),
                {});
    }
  }
}

void add_removal(write_batch& batch, std::int64_t agent_id) {
  batch.erase(keys::live(agent_id));
  batch.erase(keys::profile(agent_id));
}

void add_profiles(write_batch& batch, const std::vector<agent_profile>& ps) {
  for (auto& p : ps)
    batch.put(keys::profile(p.id), encode_profile(p));
}

std::string check_layout(kv_store& store, bool may_write) {
  storage_status st;
  auto v = store.get(keys::layout, st);
  if (!st.ok())
    return "cannot read the layout version: " + st.message;
  if (!v) {
    bool empty = true;
    store.scan("", "", [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    if (!empty)
      return "the data folder holds keys but no layout version; refusing to "
             "guess what wrote it";
    if (!may_write)
      return "";
    write_batch b;
    b.put(std::string(keys::layout), std::to_string(keys::layout_version));
    auto ws = store.write(b);
    return ws.ok() ? "" : "cannot write the layout version: " + ws.message;
  }
  auto n = parse_int(*v);
  if (!n)
    return "the layout version '" + *v + "' is unreadable";
  if (*n > keys::layout_version)
    return "the data folder uses storage layout " + std::to_string(*n)
           + ", newer than this server's layout "
           + std::to_string(keys::layout_version)
           + "; upgrade the server (the data was left untouched)";
  if (*n < keys::layout_version && may_write) {
    // Layout 1 values stay readable (decode_live takes recordings in full
    // as well as by id); from now on this server writes layout 2 values,
    // which an older server must not read: mark the folder.
    write_batch b;
    b.put(std::string(keys::layout), std::to_string(keys::layout_version));
    auto ws = store.write(b);
    if (!ws.ok())
      return "cannot write the layout version: " + ws.message;
  }
  return "";
}

bool read_stored_live(kv_store& store, std::string_view text, agent_live& out,
                      std::string& error) {
  auto lookup = [&](const std::string& id, recording& r) {
    storage_status st;
    auto v = store.get(keys::recording(id), st);
    if (!st.ok()) {
      error = "cannot read recording " + id + ": " + st.message;
      return false;
    }
    if (!v) {
      error = "recording " + id + " is missing";
      return false;
    }
    if (!decode_recording(*v, r)) {
      error = "recording " + id + " is unreadable";
      return false;
    }
    return true;
  };
  return decode_live(text, out, lookup);
}

std::string load_agents(kv_store& store,
                        const std::function<void(stored_agent&&)>& fn) {
  std::string error;
  // Live states first (only agents that ever had a call have one), then
  // the profiles in id order, each joined with its live state: two
  // sequential scans instead of a point read per agent.
  std::unordered_map<std::string, std::string> lives;
  auto st = store.scan(keys::live_prefix, "",
                       [&](std::string_view k, std::string_view v) {
                         lives.emplace(std::string(k.substr(2)),
                                       std::string(v));
                         return true;
                       });
  if (!st.ok())
    return st.message;
  st = store.scan(
    keys::profile_prefix, "", [&](std::string_view k, std::string_view v) {
      stored_agent a;
      json_value j;
      json_parse_error perr;
      std::string why;
      if (!parse_json(v, j, perr) || !decode_profile(j, a.profile, why)) {
        error = "stored profile " + std::string(k) + " is unreadable";
        return false;
      }
      auto it = lives.find(std::string(k.substr(2)));
      if (it != lives.end()) {
        a.has_live = true;
        std::string why;
        if (!read_stored_live(store, it->second, a.live, why)) {
          error = "stored live state of agent " + std::to_string(a.profile.id)
                  + " is unreadable" + (why.empty() ? "" : ": " + why);
          return false;
        }
        lives.erase(it);
      }
      fn(std::move(a));
      return true;
    });
  if (!st.ok())
    return st.message;
  return error;
}

} // namespace rapi
