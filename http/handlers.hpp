#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/agent_state.hpp"
#include "actors/directory.hpp"
#include "http/exchange.hpp"
#include "http/limits.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "storage/kv_store.hpp"

namespace rapi {

struct agent_reply;
struct agent_request;

/// What the HTTP handlers need from the rest of the server. Everything that
/// touches CAF comes in as a function, so this module builds and tests
/// without an actor system.
struct handler_services {
  directory* dir = nullptr;
  kv_store* store = nullptr;
  std::string server_id;
  param_limits limits;
  std::size_t max_bulk_agents = 1'000'000;
  /// The wall clock (ms).
  std::function<timestamp()> now;
  /// Sends a command to the actor owning an agent; `respond` is called
  /// once with the actor's answer, on an actor thread.
  std::function<void(const agent_entry_ptr&, command,
                     std::function<void(agent_error, std::string)>)>
    send;
  /// Runs slow read-only work (scans, GetAll) off the HTTP threads.
  std::function<void(std::function<void()>)> offload;
  /// Answers the operational admin routes (ready, metrics, actors, config),
  /// which need the whole application's state.
  std::function<void(route, const std::string& param, const exchange_ptr&)>
    admin_extra;
  /// The body of `GET /admin/cluster`.
  std::function<std::string()> cluster_status;
  /// Called with the agents a provisioning request created (so that a
  /// blackout a peer sent for them earlier can be applied).
  std::function<void(const std::vector<agent_entry_ptr>&)> provisioned;
  /// `admin.token`: when set, the admin listener wants
  /// `Authorization: Bearer <token>` (health and ready excepted).
  std::string admin_token;
  /// Counts refusals over limits (metrics); may be null.
  limit_counters* limit_hits = nullptr;
  /// `api.keys`: when non-empty, /api wants one of them as
  /// `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
  std::vector<std::string> api_keys;
};

/// The HTTP status and error body for a failed agent command: the one place
/// where domain errors become HTTP.
http_error to_http(const agent_error& e);

/// Compares secrets in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

/// The handlers of both listeners.
class handlers {
public:
  explicit handlers(handler_services s);

  /// Routes and answers `ex` (possibly later, from another thread).
  void dispatch(listener l, const exchange_ptr& ex);
  /// The same, with the request's route already matched (`m`).
  void dispatch(listener l, const exchange_ptr& ex, route_match m);

  const handler_services& services() const { return svc_; }

private:
  void on_agent_status(const exchange_ptr& ex, const request_params& p);
  void on_get_all(const exchange_ptr& ex);
  void on_command(route r, const exchange_ptr& ex, const request_params& p);
  void on_cti(const exchange_ptr& ex, const request_params& p);
  void on_recordings_query(const exchange_ptr& ex, const request_params& p);
  void on_recording_get(const exchange_ptr& ex, const std::string& id);
  void on_health(const exchange_ptr& ex);
  void on_cluster(const exchange_ptr& ex);
  void on_put_agents(const exchange_ptr& ex, const request_params& p,
                     const std::string& path_id);
  void on_get_agent(const exchange_ptr& ex, const std::string& path_id);
  void on_delete_agent(const exchange_ptr& ex, const std::string& path_id);

  agent_entry_ptr resolve(const agent_selector& s) const;

  handler_services svc_;
  timestamp started_;
};

} // namespace rapi
