#include "actors/agent_store.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <unordered_map>
#include <vector>

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

namespace {

/// Parses and decodes the stored profile `text` (under `key`) and, if
/// given, its live state into `out`; false with `error` set when it
/// cannot.
bool decode_agent(kv_store& store, std::string_view key,
                  std::string_view text, const std::string* live,
                  stored_agent& out, std::string& error) {
  json_value j;
  json_parse_error perr;
  std::string why;
  if (!parse_json(text, j, perr) || !decode_profile(j, out.profile, why)) {
    error = "stored profile " + std::string(key) + " is unreadable";
    return false;
  }
  if (live != nullptr) {
    out.has_live = true;
    if (!read_stored_live(store, *live, out.live, why)) {
      error = "stored live state of agent " + std::to_string(out.profile.id)
              + " is unreadable" + (why.empty() ? "" : ": " + why);
      return false;
    }
  }
  return true;
}

/// Hands chunks from one thread to another, at most `max_chunks` waiting.
template <class T>
class chunk_queue {
public:
  explicit chunk_queue(std::size_t max_chunks) : max_(max_chunks) {}
  /// Waits while `max_chunks` wait. Only the producer closes the queue,
  /// after its last push.
  void push(std::vector<T> chunk) {
    std::unique_lock<std::mutex> lk(mtx_);
    space_.wait(lk, [&] { return chunks_.size() < max_; });
    chunks_.push_back(std::move(chunk));
    ready_.notify_one();
  }
  /// The next chunk; false once closed and empty.
  bool pop(std::vector<T>& chunk) {
    std::unique_lock<std::mutex> lk(mtx_);
    ready_.wait(lk, [&] { return closed_ || !chunks_.empty(); });
    if (chunks_.empty())
      return false;
    chunk = std::move(chunks_.front());
    chunks_.pop_front();
    space_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lk(mtx_);
    closed_ = true;
    ready_.notify_all();
  }

private:
  const std::size_t max_;
  std::mutex mtx_;
  std::condition_variable ready_, space_;
  std::deque<std::vector<T>> chunks_;
  bool closed_ = false;
};

} // namespace

std::string load_agents(kv_store& store,
                        const std::function<void(stored_agent&&)>& fn) {
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
  // The profiles are read and parsed on a thread of their own while this
  // one hands the parsed agents to `fn` (which indexes them), in order,
  // in chunks: a restart with 1M agents spends about half its time on
  // each side, and has two cores.
  constexpr std::size_t chunk_size = 2048;
  chunk_queue<stored_agent> parsed(4);
  std::string error;
  std::thread reader([&] {
    pthread_setname_np(pthread_self(), "rapi-restore");
    std::vector<stored_agent> chunk;
    st = store.scan(
      keys::profile_prefix, "", [&](std::string_view k, std::string_view v) {
        auto it = lives.find(std::string(k.substr(2)));
        const std::string* live = it != lives.end() ? &it->second : nullptr;
        chunk.emplace_back();
        if (!decode_agent(store, k, v, live, chunk.back(), error)) {
          chunk.pop_back();
          return false;
        }
        if (live != nullptr)
          lives.erase(it);
        if (chunk.size() >= chunk_size) {
          parsed.push(std::move(chunk));
          chunk.clear();
        }
        return true;
      });
    if (!chunk.empty())
      parsed.push(std::move(chunk));
    parsed.close();
  });
  std::vector<stored_agent> chunk;
  while (parsed.pop(chunk))
    for (auto& a : chunk)
      fn(std::move(a));
  reader.join();
  if (!st.ok())
    return st.message;
  return error;
}

} // namespace rapi
