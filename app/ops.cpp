#include "app/ops.hpp"

#include <algorithm>
#include <chrono>

#include "actors/codec.hpp"
#include "common/json_value.hpp"

namespace rapi {

namespace {

/// "POST /api/Agent" → method "POST", path "/api/Agent".
std::pair<std::string, std::string> split_name(const char* name) {
  std::string_view n{name};
  auto sp = n.find(' ');
  if (sp == std::string_view::npos)
    return {"", std::string(n)};
  return {std::string(n.substr(0, sp)), std::string(n.substr(sp + 1))};
}

/// The deadlines an agent's actor has armed (or will arm when spawned).
std::vector<std::pair<const char*, timestamp>>
armed_timers(const blackout_state& b, std::int64_t limit_ms) {
  std::vector<std::pair<const char*, timestamp>> out;
  if (!b.active && b.scheduled_start)
    out.emplace_back("BlackoutStart", *b.scheduled_start);
  if (b.scheduled_stop)
    out.emplace_back("BlackoutStop", *b.scheduled_stop);
  if (b.active && b.start && limit_ms > 0)
    out.emplace_back("BlackoutLimit", *b.start + limit_ms);
  return out;
}

} // namespace

operations::operations(deps d) : d_(std::move(d)) {
  for (auto& n : names_)
    n.store(nullptr);
}

void operations::observe(const exchange& ex, int status,
                         std::int64_t latency_us) {
  auto r = static_cast<std::size_t>(ex.which);
  if (r < route_slots) {
    std::size_t s = statuses.size() - 1;
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
      if (statuses[i] == status)
        s = i;
    auto row = r * 2 + (ex.where == listener::admin ? 1 : 0);
    requests_[row][s].fetch_add(1, std::memory_order_relaxed);
    latency_[r].observe_us(latency_us);
    if (names_[r].load(std::memory_order_relaxed) == nullptr)
      names_[r].store(ex.route_name);
  }
  if (d_.log == nullptr || !d_.log->enabled(log_level::info))
    return;
  // Formatted in this thread's buffer, which keeps its room: no
  // allocation per request.
  thread_local std::string line;
  line.clear();
  line += "{\"time\":\"";
  append_time(line, d_.now());
  line += "\",\"level\":\"info\",\"event\":\"request\",\"request_id\":";
  append_json_string(line, ex.request_id);
  line += ",\"listener\":\"";
  line += ex.where == listener::admin ? "admin" : "api";
  line += "\",\"method\":";
  append_json_string(line, ex.method);
  line += ",\"route\":";
  append_json_string(line, ex.route_name);
  // Integers formatted in place: this runs for every request.
  line += ",\"status\":";
  append_integer(line, status);
  // Milliseconds with three decimals, as "%.3f" would print them.
  const std::int64_t us = std::max<std::int64_t>(0, latency_us);
  line += ",\"latency_ms\":";
  append_integer(line, us / 1000);
  line.push_back('.');
  const auto frac = static_cast<int>(us % 1000);
  line.push_back(static_cast<char>('0' + frac / 100));
  line.push_back(static_cast<char>('0' + frac / 10 % 10));
  line.push_back(static_cast<char>('0' + frac % 10));
  line += ",\"agent\":";
  if (ex.agent_id > 0)
    append_integer(line, ex.agent_id);
  else
    line += "null";
  line.push_back('}');
  d_.log->write_line(line);
}

void operations::answer(route r, const std::string& param,
                        const exchange_ptr& ex) {
  switch (r) {
    case route::ready:
      return ready(ex);
    case route::metrics:
      return ex->respond(200, metrics_text());
    case route::admin_actors:
      return actors(ex);
    case route::admin_actor:
      return actor(param, ex);
    case route::admin_config:
      return ex->respond(200, render_config(*d_.cfg));
    default:
      ex->fail({500, "InternalError", "unrouted admin request"});
  }
}

void operations::ready(const exchange_ptr& ex) const {
  if (!d_.recovered()) {
    ex->fail({503, "Starting", "the server is restoring its agents"},
             {{"Retry-After", "1"}});
    return;
  }
  const auto& mirror = *d_.mirror;
  if (mirror && !mirror->synced()) {
    ex->fail({503, "Starting",
              "the first cluster sync with the broker is not done yet"},
             {{"Retry-After", "1"}});
    return;
  }
  ex->respond(200, "{\"Status\":\"Ready\"}");
}

void operations::actors(const exchange_ptr& ex) const {
  auto all = d_.dir->all();
  std::size_t spawned = 0, on_call = 0, recording = 0, blackout = 0,
              idle = 0;
  std::vector<std::pair<std::int32_t, std::int64_t>> busy;
  for (auto& e : all) {
    {
      std::lock_guard<std::mutex> guard{e->spawn_mtx()};
      spawned += e->actor ? 1 : 0;
    }
    auto q = e->queued.load();
    if (q > 0)
      busy.emplace_back(q, e->id());
    auto live = e->live();
    bool rec = false;
    auto any_running = [&](const call& c) {
      for (auto& r : c.recordings)
        rec = rec || r.running();
    };
    if (live->active_call)
      any_running(*live->active_call);
    for (auto& c : live->inactive_calls)
      any_running(c);
    if (live->desktop_session && live->desktop_session->running())
      rec = true;
    if (live->blackout.active)
      ++blackout;
    if (rec)
      ++recording;
    else if (live->active_call || !live->inactive_calls.empty())
      ++on_call;
    else
      ++idle;
  }
  std::sort(busy.begin(), busy.end(), std::greater<>());
  if (busy.size() > 10)
    busy.resize(10);
  std::string out = "{\"Agents\":" + std::to_string(all.size())
                    + ",\"Actors\":" + std::to_string(spawned)
                    + ",\"Busiest\":[";
  for (std::size_t i = 0; i < busy.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out += "{\"AgentId\":" + std::to_string(busy[i].second)
           + ",\"Mailbox\":" + std::to_string(busy[i].first) + "}";
  }
  out += "],\"ByState\":{\"Idle\":" + std::to_string(idle)
         + ",\"OnCall\":" + std::to_string(on_call)
         + ",\"Recording\":" + std::to_string(recording)
         + ",\"Blackout\":" + std::to_string(blackout) + "}}";
  ex->respond(200, std::move(out));
}

void operations::actor(const std::string& param,
                       const exchange_ptr& ex) const {
  auto id = parse_int(param);
  if (!id || *id <= 0) {
    ex->fail(bad_request("InvalidParameter",
                         "AgentID '" + utf8_prefix(param, 64)
                           + "' in the path is not an integer greater than 0"));
    return;
  }
  auto e = d_.dir->find_id(*id);
  if (!e || e->removed.load()) {
    ex->fail({404, "AgentNotFound",
              "AgentID '" + utf8_prefix(param, 64) + "' matched no agent"});
    return;
  }
  ex->agent_id = e->id();
  bool spawned;
  {
    std::lock_guard<std::mutex> guard{e->spawn_mtx()};
    spawned = static_cast<bool>(e->actor);
  }
  auto live = e->live();
  std::string out = "{\"AgentId\":" + std::to_string(e->id())
                    + ",\"Actor\":{\"Spawned\":"
                    + (spawned ? "true" : "false")
                    + ",\"Mailbox\":" + std::to_string(e->queued.load())
                    + ",\"ArmedTimers\":[";
  bool first = true;
  for (auto& [kind, at] :
       armed_timers(live->blackout, d_.settings->max_blackout_ms)) {
    if (!first)
      out.push_back(',');
    first = false;
    out += "{\"Kind\":\"";
    out += kind;
    out += "\",\"At\":\"";
    append_time(out, at);
    out += "\"}";
  }
  out += "]},\"Agent\":";
  append_agent(out, *e->profile(), *live);
  out += ",\"State\":";
  out += encode_live(*live, live_form::full);
  out.push_back('}');
  ex->respond(200, std::move(out));
}

std::string operations::metrics_text() const {
  std::string out;
  out.reserve(16 * 1024);
  append_metric_header(out, "rapi_http_requests_total", "counter",
                       "HTTP requests answered, by listener, route and "
                       "status.");
  for (std::size_t r = 0; r < route_slots; ++r) {
    const char* name = names_[r].load();
    if (name == nullptr)
      continue;
    auto [method, path] = split_name(name);
    for (int l = 0; l < 2; ++l) {
      for (std::size_t s = 0; s < statuses.size(); ++s) {
        auto n = requests_[r * 2 + l][s].load();
        if (n == 0)
          continue;
        std::string labels = std::string("listener=\"")
                             + (l == 1 ? "admin" : "api") + "\",method=\""
                             + method + "\",route=\"" + label_value(path)
                             + "\",status=\""
                             + (statuses[s] == 0
                                  ? std::string("other")
                                  : std::to_string(statuses[s]))
                             + "\"";
        append_sample(out, "rapi_http_requests_total", labels,
                      static_cast<double>(n));
      }
    }
  }
  append_metric_header(out, "rapi_http_request_duration_seconds",
                       "histogram",
                       "Time from a request's arrival to its answer, by "
                       "route.");
  for (std::size_t r = 0; r < route_slots; ++r) {
    const char* name = names_[r].load();
    if (name == nullptr)
      continue;
    auto [method, path] = split_name(name);
    latency_[r].append(out, "rapi_http_request_duration_seconds",
                       "method=\"" + method + "\",route=\""
                         + label_value(path) + "\"");
  }
  append_metric_header(out, "rapi_http_requests_in_flight", "gauge",
                       "Requests received and not yet answered.");
  append_sample(out, "rapi_http_requests_in_flight", "",
                static_cast<double>(d_.in_flight()));
  append_metric_header(out, "rapi_http_connections_open", "gauge",
                       "Open HTTP connections, both listeners.");
  append_sample(out, "rapi_http_connections_open", "",
                static_cast<double>(d_.open_connections()));
  if (d_.lane_requests) {
    append_metric_header(out, "rapi_http_lane_requests_total", "counter",
                         "Requests read on each listener thread (lane); "
                         "API connections go to the lanes in turn.");
    auto lanes = d_.lane_requests();
    for (std::size_t i = 0; i < lanes.size(); ++i)
      append_sample(out, "rapi_http_lane_requests_total",
                    "lane=\"" + std::to_string(i) + "\"",
                    static_cast<double>(lanes[i]));
  }
  append_metric_header(out, "rapi_limit_rejections_total", "counter",
                       "Requests refused for going over a limit.");
  for (auto [name, value] :
       {std::pair{"body", d_.limits->body.load()},
        std::pair{"connections", d_.limits->connections.load()},
        std::pair{"metadata", d_.limits->metadata.load()},
        std::pair{"bulk_agents", d_.limits->bulk.load()}})
    append_sample(out, "rapi_limit_rejections_total",
                  std::string("limit=\"") + name + "\"",
                  static_cast<double>(value));

  // Agents, actors, mailboxes, recordings, blackouts: one pass.
  auto all = d_.dir->all();
  std::size_t actors = 0, audio = 0, duplicate = 0, screen = 0,
              blackouts = 0, scheduled = 0;
  std::int64_t queued = 0, queued_max = 0;
  for (auto& e : all) {
    {
      std::lock_guard<std::mutex> guard{e->spawn_mtx()};
      actors += e->actor ? 1 : 0;
    }
    auto q = std::max<std::int64_t>(0, e->queued.load());
    queued += q;
    queued_max = std::max(queued_max, q);
    auto live = e->live();
    auto count = [&](const recording& r) {
      if (!r.running())
        return;
      if (r.kind == recording_kind::audio)
        ++audio;
      else if (r.kind == recording_kind::duplicate)
        ++duplicate;
      else
        ++screen;
    };
    if (live->active_call)
      for (auto& r : live->active_call->recordings)
        count(r);
    for (auto& c : live->inactive_calls)
      for (auto& r : c.recordings)
        count(r);
    if (live->desktop_session)
      count(*live->desktop_session);
    blackouts += live->blackout.active ? 1 : 0;
    scheduled += live->blackout.scheduled_start ? 1 : 0;
  }
  auto gauge = [&](const char* name, const char* help, double v) {
    append_metric_header(out, name, "gauge", help);
    append_sample(out, name, "", v);
  };
  gauge("rapi_agents", "Provisioned agents.",
        static_cast<double>(all.size()));
  gauge("rapi_agent_actors", "Agent actors running (idle agents have none).",
        static_cast<double>(actors));
  gauge("rapi_agent_mailbox_depth",
        "Commands queued at agent actors and not yet processed, all agents.",
        static_cast<double>(queued));
  gauge("rapi_agent_mailbox_depth_max",
        "The deepest agent actor mailbox (queued commands).",
        static_cast<double>(queued_max));
  append_metric_header(out, "rapi_recordings_active", "gauge",
                       "Running recordings by kind.");
  append_sample(out, "rapi_recordings_active", "kind=\"Audio\"",
                static_cast<double>(audio));
  append_sample(out, "rapi_recordings_active", "kind=\"Duplicate\"",
                static_cast<double>(duplicate));
  append_sample(out, "rapi_recordings_active", "kind=\"Screen\"",
                static_cast<double>(screen));
  gauge("rapi_blackouts_active", "Agents whose blackout is running.",
        static_cast<double>(blackouts));
  gauge("rapi_blackouts_scheduled", "Agents with a blackout start armed.",
        static_cast<double>(scheduled));

  append_metric_header(out, "rapi_storage_write_duration_seconds",
                       "histogram",
                       "Store write (batch) latency: a journal record, or "
                       "a RocksDB write when the journal is off.");
  d_.store->latency.append(out, "rapi_storage_write_duration_seconds", "");
  append_metric_header(out, "rapi_storage_write_errors_total", "counter",
                       "RocksDB writes that failed (answered 500).");
  append_sample(out, "rapi_storage_write_errors_total", "",
                static_cast<double>(d_.store->errors.load()));
  if (d_.committer != nullptr) {
    const auto w = d_.committer->written();
    append_metric_header(
      out, "rapi_storage_write_groups_total", "counter",
      "RocksDB writes of group commit, by the thread that wrote them: an "
      "actor's own (writer), a drain job on a listener thread (drain), the "
      "committer's thread (committer: storage.sync, write stalls).");
    append_sample(out, "rapi_storage_write_groups_total", "by=\"writer\"",
                  static_cast<double>(w.by_writer));
    append_sample(out, "rapi_storage_write_groups_total", "by=\"drain\"",
                  static_cast<double>(w.by_drain));
    append_sample(out, "rapi_storage_write_groups_total",
                  "by=\"committer\"", static_cast<double>(w.by_thread()));
    append_metric_header(out, "rapi_storage_write_batches_total", "counter",
                         "Agent changes (batches) written by group commit.");
    append_sample(out, "rapi_storage_write_batches_total", "",
                  static_cast<double>(w.batches));
  }
  if (d_.journal != nullptr) {
    const auto j = d_.journal->written();
    auto counter = [&](const char* name, const char* help, std::uint64_t v) {
      append_metric_header(out, name, "counter", help);
      append_sample(out, name, "", static_cast<double>(v));
    };
    counter("rapi_storage_journal_records_total",
            "Batches written to the write-behind journal.", j.records);
    counter("rapi_storage_journal_folds_total",
            "Writes of the journal's pending changes into RocksDB.", j.folds);
    counter("rapi_storage_journal_folded_keys_total",
            "Keys those writes held (each once however often it changed).",
            j.folded_keys);
    counter("rapi_storage_journal_direct_total",
            "Batches too large for the journal, written to RocksDB directly.",
            j.direct);
    counter("rapi_storage_journal_ring_waits_total",
            "Writes that waited for journal space (folds falling behind).",
            j.ring_waits);
  }
  gauge("rapi_storage_size_bytes",
        "RocksDB size: SST files plus memory tables.",
        static_cast<double>(d_.store->size_bytes()));

  const auto& mirror = *d_.mirror;
  cluster::node::counters c;
  if (mirror)
    c = mirror->stats();
  gauge("rapi_cluster_enabled", "1 when blackouts are mirrored via RabbitMQ.",
        mirror ? 1 : 0);
  append_metric_header(out, "rapi_amqp_connected", "gauge",
                       "1 while the AMQP connection is up.");
  append_sample(out, "rapi_amqp_connected", "connection=\"publisher\"",
                c.publisher_connected ? 1 : 0);
  append_sample(out, "rapi_amqp_connected", "connection=\"consumer\"",
                c.consumer_connected ? 1 : 0);
  gauge("rapi_cluster_outbox_depth",
        "Blackout changes stored and not yet confirmed by the broker.",
        static_cast<double>(c.outbox_depth));
  gauge("rapi_cluster_peers", "Peer servers seen.",
        static_cast<double>(c.peers));
  auto counter = [&](const char* name, const char* help, double v) {
    append_metric_header(out, name, "counter", help);
    append_sample(out, name, "", v);
  };
  counter("rapi_cluster_published_total",
          "Messages published and confirmed by the broker.",
          static_cast<double>(c.published));
  counter("rapi_cluster_consumed_total", "Messages received from the broker.",
          static_cast<double>(c.consumed));
  counter("rapi_cluster_applied_total",
          "Peer blackout changes applied through agent actors.",
          static_cast<double>(c.applied));
  counter("rapi_cluster_duplicates_total",
          "Peer messages ignored as duplicates.",
          static_cast<double>(c.duplicates));
  counter("rapi_cluster_outbox_looks_total",
          "Looks through the stored outbox (a new broker connection, or more "
          "changes waiting than the publisher keeps in memory).",
          static_cast<double>(c.outbox_looks));
  return out;
}

} // namespace rapi
