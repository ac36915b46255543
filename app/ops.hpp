#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "actors/agent_state.hpp"
#include "actors/directory.hpp"
#include "app/config.hpp"
#include "cluster/cluster_node.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "http/exchange.hpp"
#include "http/limits.hpp"
#include "http/router.hpp"
#include "storage/group_committer.hpp"
#include "storage/journal_store.hpp"
#include "storage/timed_store.hpp"

namespace rapi {

/// What an operator sees: request metrics and log lines, and the
/// operational admin endpoints (ready, metrics, actors, config).
class operations {
public:
  struct deps {
    directory* dir = nullptr;
    timed_store* store = nullptr;
    /// Group commit, for its counters.
    const group_committer* committer = nullptr;
    /// The write-behind journal, for its counters (null when off).
    const journal_store* journal = nullptr;
    const agent_settings* settings = nullptr;
    const server_config* cfg = nullptr;
    logger* log = nullptr;
    /// The cluster node, when clustering is on (may be set late).
    const std::unique_ptr<cluster::node>* mirror = nullptr;
    /// Recovery done (the HTTP server is ready).
    std::function<bool()> recovered;
    std::function<std::int64_t()> in_flight;
    std::function<std::int64_t()> open_connections;
    /// Requests read on each listener thread (lane).
    std::function<std::vector<std::uint64_t>()> lane_requests;
    const limit_counters* limits = nullptr;
    std::function<timestamp()> now;
  };

  explicit operations(deps d);

  /// One answered request: counts it, times it, logs it.
  void observe(const exchange& ex, int status, std::int64_t latency_us);

  /// Answers ready, metrics, actors, actors/{id} and config.
  void answer(route r, const std::string& param, const exchange_ptr& ex);

  /// The Prometheus text exposition.
  std::string metrics_text() const;

private:
  static constexpr std::size_t route_slots = 48;
  static constexpr std::array<int, 10> statuses{200, 400, 401, 404, 405,
                                                409, 413, 500, 503, 0};

  void ready(const exchange_ptr& ex) const;
  void actors(const exchange_ptr& ex) const;
  void actor(const std::string& param, const exchange_ptr& ex) const;

  deps d_;
  std::array<std::array<std::atomic<std::uint64_t>, statuses.size()>,
             route_slots * 2>
    requests_{};
  std::array<histogram, route_slots> latency_;
  std::array<std::atomic<const char*>, route_slots> names_{};
};

} // namespace rapi
