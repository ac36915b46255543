#include "cluster/cluster_node.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <pthread.h>
#include <unordered_set>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "cluster/messages.hpp"
#include "common/json_value.hpp"
#include "storage/keys.hpp"

namespace rapi::cluster {

namespace {

using keys::outbox_prefix;
constexpr std::size_t max_batch = 256;
/// Committed entries the publisher keeps in memory once caught up.
constexpr std::size_t fresh_cap = 4096;
constexpr std::size_t recent_ids_kept = 20'000;
constexpr int channel = 1;

bool rpc_ok(amqp_connection_state_t c, std::string& error, const char* what) {
  auto r = amqp_get_rpc_reply(c);
  if (r.reply_type == AMQP_RESPONSE_NORMAL)
    return true;
  error = std::string(what) + " failed";
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    error += std::string(": ") + amqp_error_string2(r.library_error);
  else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
    error += " (the broker refused)";
  return false;
}

} // namespace

/// One AMQP connection with one channel.
struct node::connection {
  amqp_connection_state_t conn = nullptr;
  /// Messages published on this channel so far (confirm tags count them).
  std::uint64_t sent = 0;

  ~connection() { close(); }

  void close() {
    if (conn == nullptr)
      return;
    amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    conn = nullptr;
  }

  /// Connects to the first broker that answers; declares the exchange.
  bool open(const settings& s, std::string& used, std::string& error) {
    for (auto& url : s.brokers) {
      close();
      std::vector<char> buf(url.begin(), url.end());
      buf.push_back('\0');
      amqp_connection_info info;
      amqp_default_connection_info(&info);
      if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) {
        error = "cluster.brokers: '" + url + "' is not an AMQP URL";
        continue;
      }
      conn = amqp_new_connection();
      bool tls = s.tls || info.ssl;
      amqp_socket_t* sock = tls ? amqp_ssl_socket_new(conn)
                                : amqp_tcp_socket_new(conn);
      if (sock == nullptr) {
        error = "cannot create a socket";
        continue;
      }
      if (tls && !s.tls_ca.empty())
        amqp_ssl_socket_set_cacert(sock, s.tls_ca.c_str());
      timeval tv{2, 0};
      if (amqp_socket_open_noblock(sock, info.host, info.port, &tv)
          != AMQP_STATUS_OK) {
        error = "cannot connect to " + std::string(info.host) + ":"
                + std::to_string(info.port);
        continue;
      }
      auto user = s.username.empty() ? std::string(info.user) : s.username;
      auto pass = s.password.empty() ? std::string(info.password)
                                     : s.password;
      auto vhost = s.vhost.empty() ? std::string(info.vhost) : s.vhost;
      if (vhost.empty())
        vhost = "/";
      auto login = amqp_login(conn, vhost.c_str(), 0, 131072, s.heartbeat_s,
                              AMQP_SASL_METHOD_PLAIN, user.c_str(),
                              pass.c_str());
      if (login.reply_type != AMQP_RESPONSE_NORMAL) {
        error = "login to " + std::string(info.host) + " refused";
        continue;
      }
      amqp_channel_open(conn, channel);
      if (!rpc_ok(conn, error, "channel.open"))
        continue;
      amqp_exchange_declare(conn, channel,
                            amqp_cstring_bytes(s.exchange.c_str()),
                            amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                            amqp_empty_table);
      if (!rpc_ok(conn, error, "exchange.declare"))
        continue;
      // Credentials never leave the process: report host and port only.
      used = std::string(tls ? "amqps://" : "amqp://") + info.host + ":"
             + std::to_string(info.port);
      return true;
    }
    close();
    return false;
  }
};

node::node(settings s, kv_store& store, hybrid_clock& hlc, hooks h)
  : settings_(std::move(s)), store_(store), hlc_(hlc), hooks_(std::move(h)) {
  seq_ = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
}

node::~node() {
  stop();
}

void node::start() {
  std::int64_t depth = 0;
  store_.scan(outbox_prefix, "", [&](std::string_view, std::string_view) {
    ++depth;
    return true;
  });
  outbox_depth_ = depth;
  publisher_ = std::thread([this] { publisher_loop(); });
  consumer_ = std::thread([this] { consumer_loop(); });
}

void node::stop() {
  if (stopping_.exchange(true))
    return;
  wake_.notify_all();
  if (publisher_.joinable())
    publisher_.join();
  if (consumer_.joinable())
    consumer_.join();
}

// -- replication --------------------------------------------------------------

std::string node::next_outbox_key() {
  return std::string(outbox_prefix) + keys::hex16(seq_.fetch_add(1));
}

std::string node::encode_change(std::int64_t agent_id,
                                const blackout_state& b) {
  return encode_blackout(settings_.server_id, agent_id, b);
}

void node::outbox_committed(const std::string& key, std::string message) {
  std::vector<entry> e;
  e.emplace_back(key, std::move(message));
  added(std::move(e));
}

namespace {

/// `from` becomes `key` if that is lower (or `from` is empty).
void lower(std::string& from, const std::string& key) {
  if (from.empty() || key < from)
    from = key;
}

} // namespace

void node::added(std::vector<entry> entries) {
  outbox_depth_ += static_cast<std::int64_t>(entries.size());
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (collecting_ && fresh_.size() + entries.size() > fresh_cap) {
      // Too many waiting (a slow broker): the store has them all, and the
      // publisher looks there from the lowest.
      collecting_ = false;
      for (auto& e : fresh_)
        lower(late_from_, e.first);
      fresh_.clear();
    }
    for (auto& e : entries) {
      if (collecting_)
        fresh_.push_back(std::move(e));
      else
        lower(late_from_, e.first);
    }
    dirty_ = true;
  }
  wake_.notify_all();
}

void node::enqueue_raw(const std::string& body) {
  write_batch b;
  auto key = next_outbox_key();
  b.put(key, body);
  if (store_.write(b).ok())
    added({{key, body}});
}

void node::backoff(int& attempt) {
  auto ms = std::min(5000, 100 << std::min(attempt, 6));
  ++attempt;
  std::unique_lock<std::mutex> lock{mtx_};
  wake_.wait_for(lock, std::chrono::milliseconds(ms),
                 [this] { return stopping_.load(); });
}

// -- publishing ---------------------------------------------------------------

bool node::publish_new(connection& c, pipeline& p) {
  if (p.unconfirmed.size() >= max_batch)
    return true;
  const std::size_t budget = max_batch - p.unconfirmed.size();
  std::vector<entry> batch;
  // Once caught up, what to send comes from memory: what committed since,
  // in commit order (no store scan per change: in front of the journal a
  // scan folds everything pending into RocksDB first). The store is looked
  // through, in key order and over as many looks as it takes, on a new
  // connection (the whole outbox) and when more waited than memory keeps
  // (from the lowest key dropped); memory collects from the start of the
  // looks, and what a look sends leaves memory.
  std::string from;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // Keys taken from here on commit after memory collects (or let go
    // of them again): looks stop short of them.
    auto collect_from_now = [&] {
      p.look_until = std::string(outbox_prefix) + keys::hex16(seq_.load());
      late_from_.clear();
      collecting_ = true;
    };
    if (!p.started) {
      p.started = true;
      p.look_from = std::string(outbox_prefix);
      fresh_.clear();
      collect_from_now();
    } else if (!collecting_) {
      if (!late_from_.empty())
        lower(p.look_from, late_from_);
      collect_from_now();
    }
    if (p.look_from.empty()) {
      while (batch.size() < budget && !fresh_.empty()) {
        if (p.unconfirmed_keys.count(fresh_.front().first) == 0)
          batch.push_back(std::move(fresh_.front()));
        fresh_.pop_front();
      }
    } else {
      from = p.look_from;
    }
  }
  if (!from.empty()) {
    // Entries sent and not yet confirmed are passed over.
    ++outbox_looks_;
    bool cut = false;
    auto st = store_.scan(outbox_prefix, from,
                          [&](std::string_view k, std::string_view v) {
                            if (k >= p.look_until)
                              return false; // memory has the rest
                            if (p.unconfirmed_keys.count(std::string(k)) != 0)
                              return true;
                            batch.emplace_back(std::string(k),
                                               std::string(v));
                            cut = batch.size() >= budget;
                            return !cut;
                          });
    if (!st.ok())
      return false; // a new connection looks through it all again
    p.look_from = cut ? batch.back().first + '\x01' : std::string();
    // What committed during the looks and a look found is sent once.
    std::unordered_set<std::string> sent;
    for (auto& e : batch)
      sent.insert(e.first);
    std::lock_guard<std::mutex> guard{mtx_};
    fresh_.erase(std::remove_if(fresh_.begin(), fresh_.end(),
                                [&](const entry& e) {
                                  return sent.count(e.first) != 0;
                                }),
                 fresh_.end());
  }
  amqp_basic_properties_t props;
  std::memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = 2; // persistent
  props.content_type = amqp_cstring_bytes("application/json");
  for (auto& [k, v] : batch) {
    amqp_bytes_t body{v.size(), const_cast<char*>(v.data())};
    if (amqp_basic_publish(c.conn, channel,
                           amqp_cstring_bytes(settings_.exchange.c_str()),
                           amqp_empty_bytes, 0, 0, &props, body)
        != AMQP_STATUS_OK)
      return false;
    // Confirm tags count publishes on the channel, from 1.
    p.unconfirmed.emplace_back(++c.sent, k);
    p.unconfirmed_keys.insert(k);
  }
  return true;
}

bool node::read_confirms(connection& c, pipeline& p, int wait_us) {
  // Every confirm that has arrived, the first waited for up to `wait_us`;
  // the outbox entries they confirm are deleted in one write (an entry
  // goes only once the broker holds it).
  write_batch done;
  bool healthy = true;
  for (int frames = 0; frames < 4096; ++frames) {
    amqp_frame_t frame;
    timeval tv{0, frames == 0 ? wait_us : 0};
    auto rc = amqp_simple_wait_frame_noblock(c.conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT)
      break;
    if (rc != AMQP_STATUS_OK) {
      healthy = false;
      break;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD)
      continue; // heartbeats and the like
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      healthy = false; // republished after reconnecting
      break;
    }
    if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD)
      continue;
    auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
    while (!p.unconfirmed.empty()
           && (p.unconfirmed.front().first == ack->delivery_tag
               || (ack->multiple
                   && p.unconfirmed.front().first <= ack->delivery_tag))) {
      done.erase(p.unconfirmed.front().second);
      p.unconfirmed_keys.erase(p.unconfirmed.front().second);
      p.unconfirmed.pop_front();
    }
  }
  // rabbitmq-c keeps every frame it read in the connection's memory until
  // told it may reuse it: about 40 bytes per confirm, for as long as the
  // connection lasts, without this.
  amqp_maybe_release_buffers(c.conn);
  if (!done.empty()) {
    store_.write(done);
    auto n = static_cast<std::int64_t>(done.ops.size());
    published_ += static_cast<std::uint64_t>(n);
    outbox_depth_ -= n;
  }
  return healthy;
}

void node::publisher_loop() {
  pthread_setname_np(pthread_self(), "rapi-cluster-pub");
  int attempt = 0;
  auto last_hello = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!stopping_.load()) {
    connection c;
    std::string used, error;
    if (!c.open(settings_, used, error)) {
      pub_connected_ = false;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        last_error_ = error;
      }
      backoff(attempt);
      continue;
    }
    amqp_confirm_select(c.conn, channel);
    if (!rpc_ok(c.conn, error, "confirm.select")) {
      backoff(attempt);
      continue;
    }
    attempt = 0;
    pub_connected_ = true;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      broker_in_use_ = used;
      dirty_ = true;
    }
    // Publishing does not wait for confirms: new entries go out while
    // earlier ones are still being confirmed, so one slow confirm never
    // holds the next change back.
    pipeline p;
    bool healthy = true;
    auto drain_until = std::chrono::steady_clock::time_point::max();
    while (healthy) {
      if (stopping_.load() && drain_until
                                == std::chrono::steady_clock::time_point::max())
        drain_until = std::chrono::steady_clock::now()
                      + std::chrono::seconds(3);
      if (std::chrono::steady_clock::now() > drain_until)
        break;
      if (!stopping_.load()
          && std::chrono::steady_clock::now() - last_hello
               > std::chrono::seconds(5)) {
        last_hello = std::chrono::steady_clock::now();
        enqueue_raw(encode_control(settings_.server_id, message_type::hello));
      }
      bool more;
      {
        std::unique_lock<std::mutex> lock{mtx_};
        if (p.unconfirmed.empty() && !dirty_ && !stopping_.load())
          wake_.wait_for(lock, std::chrono::seconds(1));
        more = dirty_ || stopping_.load();
        dirty_ = false;
      }
      if (more && !publish_new(c, p)) {
        healthy = false;
        break;
      }
      if (p.unconfirmed.empty()) {
        if (stopping_.load() && outbox_depth_.load() <= 0)
          break; // everything is out
        continue;
      }
      // Confirms are usually there within a millisecond; look again for
      // new entries at least that often.
      if (!read_confirms(c, p, 1000))
        healthy = false;
      if (p.unconfirmed.size() < max_batch) {
        std::lock_guard<std::mutex> guard{mtx_};
        dirty_ = dirty_ || outbox_depth_.load()
                             > static_cast<std::int64_t>(p.unconfirmed.size());
      }
    }
    pub_connected_ = false;
    if (stopping_.load())
      return;
  }
}

// -- consuming ----------------------------------------------------------------

void node::handle(const std::string& body, std::uint64_t tag,
                  std::uint64_t generation) {
  auto ack_now = [&] {
    std::lock_guard<std::mutex> guard{mtx_};
    acks_.emplace_back(tag, generation);
  };
  ++consumed_;
  auto m = decode(body);
  if (!m) {
    ack_now();
    return;
  }
  auto now = hooks_.now();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (m->origin != settings_.server_id)
      peers_[m->origin] = now;
  }
  if (m->origin == settings_.server_id) {
    ack_now(); // our own echo
    return;
  }
  if (m->type == message_type::sync_request) {
    answer_sync();
    ack_now();
    return;
  }
  if (m->type != message_type::blackout) {
    ack_now();
    return;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!m->event_id.empty()) {
      if (recent_set_.count(m->event_id) != 0) {
        ++duplicates_;
        acks_.emplace_back(tag, generation);
        return;
      }
      recent_set_.insert(m->event_id);
      recent_ids_.push_back(m->event_id);
      if (recent_ids_.size() > recent_ids_kept) {
        recent_set_.erase(recent_ids_.front());
        recent_ids_.pop_front();
      }
    }
  }
  hlc_.observe(m->blackout.version, now);
  hooks_.apply(m->agent_id, m->blackout, [this, tag, generation] {
    ++applied_;
    std::lock_guard<std::mutex> guard{mtx_};
    acks_.emplace_back(tag, generation);
  });
}

void node::answer_sync() {
  write_batch b;
  hooks_.for_each_blackout([&](std::int64_t id, const blackout_state& s) {
    if (s.version.wall == 0)
      return; // never had a blackout
    b.put(next_outbox_key(), encode_blackout(settings_.server_id, id, s));
  });
  if (b.empty() || !store_.write(b).ok())
    return;
  std::vector<entry> entries;
  entries.reserve(b.ops.size());
  for (auto& op : b.ops)
    entries.emplace_back(std::move(op.key), std::move(op.value));
  added(std::move(entries));
}

void node::consumer_loop() {
  pthread_setname_np(pthread_self(), "rapi-cluster-sub");
  int attempt = 0;
  std::uint64_t generation = 0;
  const std::string queue = "recording-api." + settings_.server_id;
  while (!stopping_.load()) {
    connection c;
    std::string used, error;
    if (!c.open(settings_, used, error)) {
      con_connected_ = false;
      backoff(attempt);
      continue;
    }
    auto q = amqp_cstring_bytes(queue.c_str());
    // Durable, not exclusive: what peers publish while this server is down
    // waits for it.
    amqp_queue_declare(c.conn, channel, q, 0, 1, 0, 0, amqp_empty_table);
    if (!rpc_ok(c.conn, error, "queue.declare")) {
      backoff(attempt);
      continue;
    }
    amqp_queue_bind(c.conn, channel, q,
                    amqp_cstring_bytes(settings_.exchange.c_str()),
                    amqp_empty_bytes, amqp_empty_table);
    if (!rpc_ok(c.conn, error, "queue.bind")) {
      backoff(attempt);
      continue;
    }
    amqp_basic_qos(c.conn, channel, 0, 512, 0);
    amqp_basic_consume(c.conn, channel, q, amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    if (!rpc_ok(c.conn, error, "basic.consume")) {
      backoff(attempt);
      continue;
    }
    attempt = 0;
    ++generation;
    con_connected_ = true;
    // Ask the peers for their state only now that our queue is bound, so
    // their answers cannot be published before it exists (a fanout drops
    // messages no queue is bound for).
    if (!sync_requested_.exchange(true))
      enqueue_raw(encode_control(settings_.server_id,
                                 message_type::sync_request));
    bool healthy = true;
    int idle_rounds = 0;
    while (healthy && !stopping_.load()) {
      // Acknowledge what has been applied (on this connection only: tags
      // of an earlier connection are void, those messages come again).
      std::deque<std::pair<std::uint64_t, std::uint64_t>> acks;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        acks.swap(acks_);
      }
      for (auto& [tag, gen] : acks)
        if (gen == generation
            && amqp_basic_ack(c.conn, channel, tag, 0) != AMQP_STATUS_OK)
          healthy = false;
      amqp_maybe_release_buffers(c.conn);
      amqp_envelope_t env;
      timeval tv{0, 20'000};
      auto r = amqp_consume_message(c.conn, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
          && r.library_error == AMQP_STATUS_TIMEOUT) {
        // Our sync request is out (outbox empty) and the answers queued
        // meanwhile are consumed: the first sync is done.
        if (sync_requested_.load() && pub_connected_.load()
            && outbox_depth_.load() == 0 && ++idle_rounds >= 5
            && !synced_.load()) {
          synced_ = true;
          last_sync_ = hooks_.now();
        }
        continue;
      }
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        healthy = false;
        break;
      }
      idle_rounds = 0;
      std::string body(static_cast<const char*>(env.message.body.bytes),
                       env.message.body.len);
      auto tag = env.delivery_tag;
      amqp_destroy_envelope(&env);
      handle(body, tag, generation);
    }
    con_connected_ = false;
  }
}

// -- status -------------------------------------------------------------------

node::counters node::stats() const {
  counters c;
  c.publisher_connected = pub_connected_.load();
  c.consumer_connected = con_connected_.load();
  c.outbox_depth = outbox_depth_.load();
  c.published = published_.load();
  c.consumed = consumed_.load();
  c.applied = applied_.load();
  c.duplicates = duplicates_.load();
  c.outbox_looks = outbox_looks_.load();
  c.synced = synced_.load();
  std::lock_guard<std::mutex> guard{mtx_};
  c.peers = peers_.size();
  return c;
}

std::string node::status_json() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::string out = "{\"Enabled\":true,\"ServerId\":";
  append_json_string(out, settings_.server_id);
  out += ",\"Broker\":{\"Publisher\":\"";
  out += pub_connected_.load() ? "connected" : "disconnected";
  out += "\",\"Consumer\":\"";
  out += con_connected_.load() ? "connected" : "disconnected";
  out += "\",\"Url\":";
  append_json_string(out, broker_in_use_);
  out += ",\"LastError\":";
  append_json_string(out, last_error_);
  out += "},\"Exchange\":";
  append_json_string(out, settings_.exchange);
  out += ",\"Peers\":[";
  bool first = true;
  for (auto& [id, seen] : peers_) {
    if (!first)
      out.push_back(',');
    first = false;
    out += "{\"ServerId\":";
    append_json_string(out, id);
    out += ",\"LastSeen\":\"";
    append_time(out, seen);
    out += "\"}";
  }
  out += "],\"OutboxDepth\":" + std::to_string(outbox_depth_.load())
         + ",\"Published\":" + std::to_string(published_.load())
         + ",\"Consumed\":" + std::to_string(consumed_.load())
         + ",\"Applied\":" + std::to_string(applied_.load())
         + ",\"Duplicates\":" + std::to_string(duplicates_.load())
         + ",\"Synced\":" + (synced_.load() ? "true" : "false")
         + ",\"LastSync\":";
  if (auto t = last_sync_.load(); t != 0) {
    out.push_back('"');
    append_time(out, t);
    out.push_back('"');
  } else {
    out += "null";
  }
  out.push_back('}');
  return out;
}

} // namespace rapi::cluster
