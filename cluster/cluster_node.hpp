#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "actors/hlc.hpp"
#include "actors/replication.hpp"
#include "storage/kv_store.hpp"

namespace rapi::cluster {

struct settings {
  bool enabled = false;
  std::string server_id;
  /// AMQP URLs, tried in order on failure (amqp://user:pass@host:port/vhost,
  /// amqps:// for TLS).
  std::vector<std::string> brokers{"amqp://guest:guest@127.0.0.1:5672"};
  std::string exchange = "recording-api.blackouts";
  /// Override the URL's credentials / vhost when non-empty.
  std::string username;
  std::string password;
  std::string vhost;
  bool tls = false;
  std::string tls_ca;
  int heartbeat_s = 10;
};

/// What the node needs from the rest of the server.
struct hooks {
  /// Applies a peer's blackout state to an agent through its actor (or
  /// keeps it for an agent not provisioned yet); `done` runs once it is
  /// durable, after which the delivery is acknowledged to the broker.
  std::function<void(std::int64_t agent_id, const blackout_state& state,
                     std::function<void()> done)>
    apply;
  /// Visits every agent's current blackout (for a peer's SyncRequest).
  std::function<void(
    const std::function<void(std::int64_t, const blackout_state&)>&)>
    for_each_blackout;
  std::function<timestamp()> now;
};

/// The blackout mirror: publishes local changes from the RocksDB outbox with
/// publisher confirms (an entry is deleted only once the broker confirmed
/// it), and consumes peers' changes from this server's own durable queue
/// bound to the fanout exchange.
///
/// rabbitmq-c is blocking, so the node runs two threads of its own (one
/// connection each: publisher, consumer); no CAF worker or HTTP thread ever
/// waits on the broker. While the broker is down the API keeps answering:
/// changes pile up in the outbox and go out after reconnection (with
/// backoff, trying each broker in turn).
class node final : public replication {
public:
  node(settings s, kv_store& store, hybrid_clock& hlc, hooks h);
  ~node() override;

  void start();
  /// Publishes what the outbox holds (bounded wait), then stops.
  void stop();

  // -- replication ----------------------------------------------------------
  std::string next_outbox_key() override;
  std::string encode_change(std::int64_t agent_id,
                            const blackout_state& b) override;
  void outbox_committed(const std::string& key, std::string message) override;

  /// `GET /admin/cluster`.
  std::string status_json() const;

  struct counters {
    bool publisher_connected = false;
    bool consumer_connected = false;
    std::int64_t outbox_depth = 0;
    std::uint64_t published = 0;
    std::uint64_t consumed = 0;
    std::uint64_t applied = 0;
    std::uint64_t duplicates = 0;
    /// Looks through the stored outbox (on a new connection, or when more
    /// waited than the publisher keeps in memory).
    std::uint64_t outbox_looks = 0;
    std::size_t peers = 0;
    bool synced = false;
  };
  /// For the metrics endpoint.
  counters stats() const;
  /// True once this node asked its peers for their state over a working
  /// connection and consumed what was queued for it then.
  bool synced() const { return synced_.load(); }
  const settings& config() const { return settings_; }

private:
  struct connection;

  void publisher_loop();
  void consumer_loop();
  /// Publishes without waiting: what has been sent and awaits a confirm.
  struct pipeline {
    std::deque<std::pair<std::uint64_t, std::string>> unconfirmed;
    std::unordered_set<std::string> unconfirmed_keys;
    bool started = false;
    /// Where the looks through the store go on (empty: caught up), and
    /// where they end (keys taken after memory began to collect).
    std::string look_from;
    std::string look_until;
  };
  bool publish_new(connection& c, pipeline& p);
  bool read_confirms(connection& c, pipeline& p, int wait_us);
  void handle(const std::string& body, std::uint64_t tag,
              std::uint64_t generation);
  void answer_sync();
  void enqueue_raw(const std::string& body);
  using entry = std::pair<std::string, std::string>; ///< key, message
  /// Outbox entries were committed: counts them, hands them to the
  /// publisher (in memory, or as where to look in the store) and wakes it.
  void added(std::vector<entry> entries);
  void backoff(int& attempt);

  settings settings_;
  kv_store& store_;
  hybrid_clock& hlc_;
  hooks hooks_;

  std::atomic<bool> stopping_{false};
  std::thread publisher_;
  std::thread consumer_;

  mutable std::mutex mtx_;
  std::condition_variable wake_;
  bool dirty_ = true;
  /// What the publisher sends needs no store scan once it has caught up:
  /// while `collecting_`, `fresh_` holds every entry committed since the
  /// publisher's looks through the store began, in the order they
  /// committed, less what a look sent. When more than `fresh_cap` waited,
  /// memory let go of them: `late_from_` is the lowest key let go, where
  /// the publisher looks again (an entry can commit after a higher key was
  /// already sent, so a look from the position reached would miss it).
  std::deque<entry> fresh_;
  bool collecting_ = false;
  std::string late_from_;
  std::atomic<std::uint64_t> seq_;
  /// Deliveries applied and ready to acknowledge, with their connection.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> acks_;
  std::map<std::string, timestamp> peers_;
  std::deque<std::string> recent_ids_;
  std::unordered_set<std::string> recent_set_;

  std::atomic<bool> pub_connected_{false};
  std::atomic<bool> con_connected_{false};
  std::atomic<std::int64_t> outbox_depth_{0};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> consumed_{0};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> outbox_looks_{0};
  std::atomic<timestamp> last_sync_{0};
  std::atomic<bool> synced_{false};
  std::atomic<bool> sync_requested_{false};
  std::string broker_in_use_;
  std::string last_error_;
};

} // namespace rapi::cluster
