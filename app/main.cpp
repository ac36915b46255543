/// recording-api: wiring only. Creates the modules in order (storage,
/// actors, HTTP), waits for SIGINT/SIGTERM, and stops them in reverse.

#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/agent_actor.hpp"
#include "actors/agent_store.hpp"
#include "actors/codec.hpp"
#include "actors/io_scheduler.hpp"
#include "app/config.hpp"
#include "app/ops.hpp"
#include "common/log.hpp"
#include "storage/journal_store.hpp"
#include "storage/timed_store.hpp"
#include "http/handlers.hpp"
#include "http/server.hpp"
#include "storage/keys.hpp"

namespace {

using namespace rapi;

timestamp wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

bool make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/')
    cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty())
      continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  }
  return true;
}

/// Reads the agents file: a JSON array of agent objects.
bool read_agents_file(const std::string& path,
                      std::vector<agent_profile>& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read the agents file '" + path + "'";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  json_value root;
  json_parse_error perr;
  if (!parse_json(ss.str(), root, perr)) {
    error = "the agents file '" + path + "' is not valid JSON: " + perr.message;
    return false;
  }
  if (!root.is_array()) {
    error = "the agents file '" + path + "' must hold a JSON array of agents";
    return false;
  }
  for (std::size_t i = 0; i < root.items.size(); ++i) {
    agent_profile p;
    std::string why;
    if (!decode_profile(root.items[i], p, why)) {
      error = "the agents file '" + path + "', agent " + std::to_string(i)
              + ": " + why;
      return false;
    }
    out.push_back(std::move(p));
  }
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0)
    return "recording-api";
  return buf;
}

int run(const server_config& cfg) {
  // Signals are taken by sigwait below, never by a worker thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // -- storage --------------------------------------------------------------
  if (!make_dirs(cfg.data_dir)) {
    std::cerr << "recording-api: cannot create the data folder '"
              << cfg.data_dir << "'\n";
    return 1;
  }
  std::string error;
  // Look before touching: a folder this server cannot use is refused
  // without RocksDB even replaying its write-ahead log into it.
  if (auto probe = open_rocksdb_readonly(cfg.data_dir, error)) {
    if (auto err = check_layout(*probe, false); !err.empty()) {
      std::cerr << "recording-api: " << cfg.data_dir << ": " << err << "\n";
      return 1;
    }
  } else if (!error.empty()) {
    std::cerr << "recording-api: " << error << " (the data was left untouched)\n";
    return 1;
  }
  rocksdb_options ropts;
  ropts.sync = cfg.storage_sync;
  ropts.min_free_bytes = static_cast<std::uint64_t>(cfg.storage_min_free_bytes);
  const bool journaled = !cfg.storage_sync && cfg.storage_journal_mb > 0;
  ropts.insert_hints = !journaled;
  ropts.idle_background = journaled;
  auto rocks = open_rocksdb(cfg.data_dir, ropts, error);
  if (!rocks) {
    std::cerr << "recording-api: " << error << "\n";
    return 1;
  }
  // What an earlier run journaled and did not fold into RocksDB is replayed
  // first, whatever this run's settings (docs/durability.md).
  journal_options jopts;
  jopts.capacity_bytes = static_cast<std::uint64_t>(cfg.storage_journal_mb)
                         << 20;
  jopts.fold_interval = std::chrono::milliseconds(cfg.storage_journal_fold_ms);
  // The prefixes scanned while serving: recordings queries and the
  // cluster's outbox read what is pending without folding it first.
  for (auto p : {keys::time_prefix, keys::agent_index_prefix,
                 keys::outbox_prefix})
    jopts.listed_prefixes.emplace_back(p);
  journal_replay replayed;
  auto journal = journal_store::open(cfg.data_dir, *rocks, jopts, replayed,
                                     error);
  if (!journal) {
    std::cerr << "recording-api: " << error << "\n";
    return 1;
  }
  if (replayed.records > 0)
    std::cerr << "recording-api: replayed " << replayed.records
              << " journaled change(s) into the store\n";
  if (!replayed.damaged.empty())
    std::cerr << "recording-api: warning: journal: " << replayed.damaged
              << "\n";
  if (journaled && !journal->folds_at_idle_priority())
    std::cerr << "recording-api: note: journal folds run at normal priority "
                 "(this process may not bring a thread back from idle "
                 "priority: LimitNICE=+0 or CAP_SYS_NICE allows it; "
                 "docs/durability.md)\n";
  if (!journaled) {
    // Writes go to RocksDB directly (with storage.sync, an fsync each).
    journal.reset();
    ::unlink((cfg.data_dir + "/journal").c_str());
  }
  kv_store* store = journal ? static_cast<kv_store*>(journal.get())
                            : rocks.get();
  // The layout key goes to RocksDB directly: the read-only look above, at
  // the next start, must find it there.
  if (auto err = check_layout(*rocks); !err.empty()) {
    std::cerr << "recording-api: " << cfg.data_dir << ": " << err << "\n";
    return 1;
  }
  std::vector<agent_profile> file_agents;
  if (!cfg.agents_file.empty()
      && !read_agents_file(cfg.agents_file, file_agents, error)) {
    std::cerr << "recording-api: " << error << "\n";
    return 1;
  }

  // Every write is timed for the metrics endpoint.
  timed_store timed{*store};
  logger log{*parse_log_level(cfg.log_level)};

  // -- HTTP (constructed first: its lanes outlive the actors) ---------------
  http_server server{cfg.http};

  // -- actors ---------------------------------------------------------------
  caf::actor_system_config caf_cfg;
  if (cfg.actor_threads == 0)
    run_actors_on(caf_cfg, server.lanes());
  else
    caf_cfg.set("scheduler.max-threads", cfg.actor_threads);
  // Made once the listeners are bound (a failed bind leaves nothing to end).
  std::unique_ptr<caf::actor_system> sys;

  // Every change is written through group commit: one RocksDB write (one
  // WAL append, and one fsync with storage.sync) for whatever the agent
  // actors handed over meanwhile. With the actors on the listener threads,
  // what piles up while one of them writes is written by a drain job on
  // those threads too, rather than by waking the committer's thread
  // (which then only waits out write stalls). The listener threads are
  // joined before the committer ends.
  group_committer::poster drains;
  if (cfg.actor_threads == 0)
    drains = [&lanes = server.lanes()](std::function<void()> job) {
      defer_on(lanes, std::move(job));
    };
  // With storage.sync every write goes through the committer's thread, so
  // that no listener thread waits for an fsync.
  // In front of the journal, writers write side by side (no groups).
  auto committer = std::make_unique<group_committer>(
    timed, 4096, !cfg.storage_sync, std::move(drains),
    journal != nullptr);

  directory dir;
  hybrid_clock hlc;
  agent_services svc;
  svc.hlc = &hlc;
  svc.store = &timed;
  svc.committer = committer.get();
  svc.dir = &dir;
  svc.now = wall_clock_ms;
  svc.settings.max_blackout_ms = cfg.max_agent_blackout_s * 1000;
  svc.settings.max_metadata_keys = cfg.limits.max_metadata_keys;
  // The server id needs the real port; it is set once the listener is bound
  // but before any agent actor runs a command (recovery below reads none).
  std::string server_id = cfg.server_id;

  handler_services hs;
  hs.dir = &dir;
  hs.store = &timed;
  hs.admin_token = cfg.admin_token;
  hs.limit_hits = &server.limits();
  hs.api_keys = cfg.api_keys;
  hs.limits = cfg.limits;
  hs.max_bulk_agents = cfg.max_bulk_agents;
  hs.now = wall_clock_ms;
  hs.send = [&svc](const agent_entry_ptr& e, command cmd,
                   std::function<void(agent_error, std::string)> respond) {
    send_to_agent(e,
                  agent_request{std::move(cmd),
                                [respond = std::move(respond)](agent_reply r) {
                                  respond(std::move(r.error),
                                          std::move(r.body));
                                }},
                  &svc);
  };
  hs.offload = [&server](std::function<void()> fn) {
    server.offload(std::move(fn));
  };

  // -- cluster (created once the server id is known) ------------------------
  std::unique_ptr<cluster::node> mirror;
  // A peer's blackout for an agent this server does not know yet is kept
  // under `x:<agent>` and applied when the agent is provisioned.
  auto replicate = [&svc](const agent_entry_ptr& e, const blackout_state& b,
                          std::function<void()> done) {
    command cmd;
    cmd.kind = command_kind::blackout_replicate;
    cmd.remote_blackout = b;
    send_to_agent(e,
                  agent_request{std::move(cmd),
                                [done = std::move(done)](agent_reply r) {
                                  if (!r.error)
                                    done();
                                }},
                  &svc);
  };
  auto pending_key = [](std::int64_t id) {
    return "x:" + keys::hex16(static_cast<std::uint64_t>(id));
  };
  auto apply_pending = [&](const std::vector<agent_entry_ptr>& created) {
    for (auto& e : created) {
      storage_status st;
      auto v = store->get(pending_key(e->id()), st);
      json_value j;
      json_parse_error perr;
      blackout_state b;
      if (!v || !parse_json(*v, j, perr) || !decode_blackout(j, b))
        continue;
      replicate(e, b, [&store, key = pending_key(e->id())] {
        write_batch wb;
        wb.erase(key);
        store->write(wb);
      });
    }
  };
  hs.cluster_status = [&mirror] {
    return mirror ? mirror->status_json() : std::string();
  };
  std::atomic<bool> recovered{false};
  operations::deps od;
  od.dir = &dir;
  od.store = &timed;
  od.committer = committer.get();
  od.journal = journal.get();
  od.settings = &svc.settings;
  od.cfg = &cfg;
  od.log = &log;
  od.mirror = &mirror;
  od.recovered = [&recovered] { return recovered.load(); };
  od.in_flight = [&server] { return server.in_flight(); };
  od.open_connections = [&server] { return server.open_connections(); };
  od.lane_requests = [&server] { return server.requests_by_lane(); };
  od.limits = &server.limits();
  od.now = wall_clock_ms;
  operations ops{od};
  hs.admin_extra = [&ops](route r, const std::string& param,
                          const exchange_ptr& ex) { ops.answer(r, param, ex); };
  server.set_observer([&ops](const exchange& ex, int status,
                             std::int64_t latency_us) {
    ops.observe(ex, status, latency_us);
  });
  hs.provisioned = apply_pending;

  auto restore_start = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> recovering{0};
  svc.recovering = &recovering;
  std::size_t restored = 0;
  // Recovery spawns actors whose restored timers may fire at once; they need
  // the server id, so bind first when it is derived from the port.
  try {
    server.bind();
  } catch (const std::exception& e) {
    std::cerr << "recording-api: " << e.what() << "\n";
    return 1;
  }
  sys = std::make_unique<caf::actor_system>(caf_cfg);
  svc.sys = sys.get();
  // The actors first (their last writes and answers), then the threads
  // they ran on, then the actor system: CAF's end waits until every thread
  // that spawned an actor has let go of it.
  bool ended = false;
  auto stop_actors_and_threads = [&] {
    if (ended)
      return;
    ended = true;
    for (auto& e : dir.all())
      stop_agent(*e);
    sys->await_all_actors_done();
    if (mirror)
      mirror->stop();
    committer->stop();
    server.stop();
    sys.reset();
  };
  if (server_id.empty())
    server_id = cfg.cluster.server_id;
  if (server_id.empty())
    server_id = host_name() + ":" + std::to_string(server.api_port());
  svc.settings.server_id = server_id;
  // The handlers get it before the listener threads start: /admin/health
  // is served from then on and reads it.
  hs.server_id = server_id;
  handlers h{hs};
  server.start(h);
  // From here on the listener threads run handlers and actors that use the
  // locals above (the committer, the directory, the handlers, the actor
  // system). Should anything below throw, they are stopped first: the
  // locals would otherwise be destroyed under running threads.
  struct end_on_unwind {
    std::function<void()> end;
    ~end_on_unwind() {
      if (std::uncaught_exceptions() > 0)
        end();
    }
  } unwind_guard{[&] {
    server.stop_accepting();
    stop_actors_and_threads();
  }};
  if (cfg.cluster.enabled) {
    auto cs = cfg.cluster;
    cs.server_id = server_id;
    cluster::hooks ch;
    ch.now = wall_clock_ms;
    ch.apply = [&](std::int64_t id, const blackout_state& b,
                   std::function<void()> done) {
      auto e = dir.find_id(id);
      if (e && !e->removed.load()) {
        replicate(e, b, std::move(done));
        return;
      }
      storage_status st;
      auto key = pending_key(id);
      auto v = store->get(key, st);
      json_value j;
      json_parse_error perr;
      blackout_state kept;
      if (v && parse_json(*v, j, perr) && decode_blackout(j, kept)
          && !b.newer_than(kept)) {
        done();
        return;
      }
      std::string body;
      append_blackout(body, b, true);
      write_batch wb;
      wb.put(key, body);
      if (store->write(wb).ok())
        done();
    };
    ch.for_each_blackout =
      [&dir](const std::function<void(std::int64_t, const blackout_state&)>&
               f) {
        for (auto& e : dir.all())
          if (!e->removed.load())
            f(e->id(), e->live()->blackout);
      };
    mirror = std::make_unique<cluster::node>(std::move(cs), *store, hlc,
                                             std::move(ch));
    svc.repl = mirror.get();
  }
  // Requests that arrive during recovery get 503 Starting (health
  // excepted); the listening lines are printed once recovery is done.
  {
    std::size_t stored = 0;
    store->scan(keys::profile_prefix, "", [&](std::string_view,
                                              std::string_view) {
      ++stored;
      return true;
    });
    dir.reserve(stored);
  }
  error = load_agents(*store, [&](stored_agent&& a) {
    auto e = std::make_shared<agent_entry>(a.profile.id);
    e->set_profile(std::make_shared<const agent_profile>(a.profile));
    bool timer = needs_timer(a.live);
    // New stamps must order after every stored one, whatever the clock did.
    hlc.observe(a.live.blackout.version, wall_clock_ms());
    e->set_live(a.has_live ? std::make_shared<const agent_live>(
                  std::move(a.live))
                           : empty_live());
    dir.restore(e);
    // Idle agents get their actor on first use; armed deadlines need one now.
    if (timer) {
      ++recovering;
      ensure_agent_actor(e, &svc);
    }
    ++restored;
  });
  if (!error.empty()) {
    std::cerr << "recording-api: cannot restore the stored agents: " << error
              << " (the data was left untouched)\n";
    server.stop_accepting();
    stop_actors_and_threads();
    return 1;
  }
  // The agents file: create or update each agent; one that conflicts with
  // a stored agent is skipped with a warning rather than blocking start-up.
  for (auto& p : file_agents) {
    auto res = dir.provision(
      {p},
      [&](const std::vector<agent_profile>& ps) {
        write_batch b;
        add_profiles(b, ps);
        return store->write(b).message;
      });
    apply_pending(res.created);
    if (!res.conflict.empty())
      std::cerr << "recording-api: agents file: skipped AgentID " << p.id
                << ": " << res.conflict << "\n";
    if (!res.storage_error.empty()) {
      std::cerr << "recording-api: cannot store the agents file: "
                << res.storage_error << "\n";
      server.stop_accepting();
      stop_actors_and_threads();
      return 1;
    }
  }
  // Deadlines that passed while the server was down are applied (with
  // their original times) before the first request is served.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (recovering.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  recovered = true;
  server.set_ready();
  if (mirror)
    mirror->start();
  auto restore_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - restore_start)
                      .count();
  {
    std::string extra = ",\"server_id\":";
    append_json_string(extra, server_id);
    extra += ",\"restored\":" + std::to_string(restored)
             + ",\"agents\":" + std::to_string(dir.size())
             + ",\"restore_ms\":" + std::to_string(restore_ms)
             + ",\"cluster\":" + (mirror ? "true" : "false")
             + ",\"listener_cpus\":[";
    // The CPUs the listener threads are pinned to, one each ([]: not
    // pinned: server.pin_threads off, or fewer CPUs than threads).
    const auto& cpus = server.lanes().pinned();
    for (std::size_t i = 0; i < cpus.size(); ++i)
      extra += (i ? "," : "") + std::to_string(cpus[i]);
    extra += "]";
    log.event(log_level::info, "ready", extra);
  }
  // The two plain lines tools wait for (one per listener, real ports).
  log.write("api listening on http://" + cfg.http.bind + ":"
            + std::to_string(server.api_port()));
  log.write("admin listening on http://" + cfg.http.admin_bind + ":"
            + std::to_string(server.admin_port()));
  log.flush();

  // -- wait -----------------------------------------------------------------
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log.event(log_level::info, "stopping",
            sig == SIGINT ? ",\"signal\":\"SIGINT\""
                          : ",\"signal\":\"SIGTERM\"");

  // -- stop, in reverse -----------------------------------------------------
  server.stop_accepting();
  if (!server.drain(std::chrono::seconds(10)))
    log.event(log_level::error, "drain_timeout",
              ",\"in_flight\":" + std::to_string(server.in_flight()));
  stop_actors_and_threads();
  log.event(log_level::info, "stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rapi::server_config cfg;
  bool help = false;
  std::string error;
  if (!rapi::load_config(argc, argv, environ, cfg, help, error)) {
    std::cerr << "recording-api: " << error << "\n" << rapi::usage();
    return 2;
  }
  if (help) {
    std::cout << rapi::usage();
    return 0;
  }
  try {
    return run(cfg);
  } catch (const std::exception& e) {
    std::cerr << "recording-api: fatal: " << e.what() << "\n";
    return 1;
  }
}
