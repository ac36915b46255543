/// Spec §8 and the operations issue: admin endpoints, metrics (checked with
/// promtool), auth, configuration from file, environment and flags, logs.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <dirent.h>
#include <map>
#include <sys/stat.h>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "common/io_lanes.hpp"
#include "tests/integration/fixture.hpp"

using namespace rapi::test;

namespace {

std::string write_config(const std::string& dir, const std::string& text) {
  auto path = dir + "/config.json";
  std::ofstream f(path);
  f << text;
  return path;
}

/// Runs promtool on `text`; returns its exit code and output.
std::pair<int, std::string> promtool(const std::string& text) {
  auto dir = make_temp_dir("rapi-prom");
  {
    std::ofstream f(dir + "/m.txt");
    f << text;
  }
  std::string out;
  std::string cmd = "promtool check metrics < '" + dir + "/m.txt' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(p != nullptr, "cannot run promtool");
  char buf[512];
  while (std::fgets(buf, sizeof buf, p))
    out += buf;
  int rc = ::pclose(p);
  remove_dir(dir);
  return {WEXITSTATUS(rc), out};
}

bool has_line_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return true;
  return false;
}

/// Each of the process's threads by name: its `Cpus_allowed_list` (the
/// last one of a name wins; listener threads have unique names).
std::map<std::string, std::string> thread_cpus(pid_t pid) {
  std::map<std::string, std::string> out;
  const auto dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  BOOST_REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    const auto task = dir + "/" + e->d_name;
    std::string name, line, cpus;
    std::getline(std::ifstream(task + "/comm"), name);
    std::ifstream status(task + "/status");
    while (std::getline(status, line))
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        cpus = line.substr(line.find_first_not_of(" \t", 18));
    out[name] = cpus;
  }
  ::closedir(d);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(metrics_pass_promtool_and_count_requests) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  s.api.post("/api/Record/StartForAgent", R"({"AgentIdentifier":"Id","Value":"2"})");
  s.api.post("/api/Blackout/StartForAgent", R"({"AgentIdentifier":"Id","Value":"2"})");
  s.api.get("/api/Agent?agentIdentifier=Id&value=99");
  auto r = s.admin.get("/admin/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Content-Type").find("text/plain") != std::string::npos);
  auto [rc, out] = promtool(r.body);
  BOOST_TEST(rc == 0, out);
  for (auto prefix :
       {"rapi_http_requests_total{listener=\"api\",method=\"POST\","
        "route=\"/api/Record/StartForAgent\",status=\"200\"} 1",
        "rapi_http_requests_total{listener=\"api\",method=\"GET\","
        "route=\"/api/Agent\",status=\"404\"} 1",
        "rapi_http_request_duration_seconds_bucket{method=\"POST\","
        "route=\"/api/Record/StartForAgent\",le=\"+Inf\"} 1",
        "rapi_http_requests_in_flight ", "rapi_agents 4",
        "rapi_agent_actors 1", "rapi_agent_mailbox_depth ",
        "rapi_recordings_active{kind=\"Audio\"} 1",
        "rapi_blackouts_active 1", "rapi_storage_write_duration_seconds_count",
        "rapi_storage_size_bytes ", "rapi_amqp_connected{connection=\"publisher\"} 0",
        "rapi_cluster_outbox_depth 0", "rapi_cluster_published_total 0",
        "rapi_cluster_outbox_looks_total 0"})
    BOOST_TEST(has_line_starting(r.body, prefix), prefix);
}

BOOST_AUTO_TEST_CASE(server_runs_on_the_configured_allocator) {
  // The build links tcmalloc (cmake/dependencies.cmake) unless told
  // otherwise or sanitizing; nothing calls it by name, so a linker that
  // dropped it would leave glibc's malloc in effect without a word.
  demo_server s;
  std::ifstream maps("/proc/" + std::to_string(s.srv.pid()) + "/maps");
  BOOST_REQUIRE(maps.good());
  std::string text((std::istreambuf_iterator<char>(maps)),
                   std::istreambuf_iterator<char>());
  const bool tcmalloc = text.find("libtcmalloc") != std::string::npos;
  BOOST_TEST(tcmalloc == (std::string(RAPI_ALLOCATOR_IN_USE) == "tcmalloc"),
             "allocator " RAPI_ALLOCATOR_IN_USE);
}

BOOST_AUTO_TEST_CASE(group_commit_metrics_show_which_thread_writes) {
  auto groups = [](demo_server& s, const std::string& by) {
    auto body = s.admin.get("/admin/metrics").body;
    auto name = "rapi_storage_write_groups_total{by=\"" + by + "\"} ";
    auto at = body.find(name);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, name);
    return std::stod(body.substr(at + name.size()));
  };
  auto changes = [](demo_server& s) {
    s.call_started("Id", "2", "c-1");
    auto r = s.api.post("/api/Record/StartForAgent",
                        R"({"AgentIdentifier":"Id","Value":"2"})");
    BOOST_TEST(r.status == 200, r.body);
  };
  {
    // One change at a time: each actor writes its own, on its thread.
    demo_server s;
    changes(s);
    BOOST_TEST(groups(s, "writer") >= 2);
    BOOST_TEST(groups(s, "committer") == 0);
  }
  {
    // storage.sync: every write goes through the committer's thread, so
    // that no listener thread waits for an fsync.
    auto dir = make_temp_dir("rapi-cfg");
    auto cfg = write_config(dir, R"({"storage": {"sync": true}})");
    demo_server s({"--config", cfg});
    changes(s);
    BOOST_TEST(groups(s, "writer") == 0);
    BOOST_TEST(groups(s, "drain") == 0);
    BOOST_TEST(groups(s, "committer") >= 2);
    remove_dir(dir);
  }
}

BOOST_AUTO_TEST_CASE(journal_metrics_count_records_and_folds) {
  auto metric = [](demo_server& s, const std::string& name)
    -> std::optional<double> {
    auto body = s.admin.get("/admin/metrics").body;
    auto at = body.find("\n" + name + " ");
    if (at == std::string::npos)
      return std::nullopt;
    return std::stod(body.substr(at + name.size() + 2));
  };
  {
    demo_server s;
    auto before = metric(s, "rapi_storage_journal_records_total");
    BOOST_REQUIRE(before);
    s.call_started("Id", "2", "c-1");
    BOOST_TEST(*metric(s, "rapi_storage_journal_records_total") == *before + 1);
    // Folded within storage.journal_fold_ms (250 ms).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (metric(s, "rapi_storage_journal_folds_total").value_or(0) < 1
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST(*metric(s, "rapi_storage_journal_folds_total") >= 1);
    BOOST_TEST(*metric(s, "rapi_storage_journal_folded_keys_total") >= 1);
    BOOST_TEST(*metric(s, "rapi_storage_journal_direct_total") == 0);
    BOOST_TEST(*metric(s, "rapi_storage_journal_ring_waits_total") == 0);
  }
  {
    // storage.sync writes RocksDB directly: no journal, no journal metrics.
    auto dir = make_temp_dir("rapi-cfg");
    auto cfg = write_config(dir, R"({"storage": {"sync": true}})");
    demo_server s({"--config", cfg});
    s.call_started("Id", "2", "c-1");
    BOOST_TEST(!metric(s, "rapi_storage_journal_records_total"));
    struct stat st;
    BOOST_TEST(::stat((s.srv.data_dir() + "/journal").c_str(), &st) != 0);
    remove_dir(dir);
  }
}

BOOST_AUTO_TEST_CASE(api_connections_go_to_the_listener_threads_in_turn) {
  // Each listener thread (lane) runs the connections it was given; the API
  // listener hands new connections to the lanes in turn, so even one
  // client with a few connections keeps every thread busy.
  demo_server s;
  // Requests read on each lane; this scrape is one of lane 0's (admin
  // connections stay on the first lane).
  auto lanes = [&s] {
    auto body = s.admin.get("/admin/metrics").body;
    std::vector<double> v;
    for (int lane = 0;; ++lane) {
      const std::string name = "\nrapi_http_lane_requests_total{lane=\""
                               + std::to_string(lane) + "\"} ";
      auto at = body.find(name);
      if (at == std::string::npos)
        return v;
      v.push_back(std::stod(body.substr(at + name.size())));
    }
  };
  auto before = lanes();
  BOOST_REQUIRE_EQUAL(before.size(), 2u); // server.threads' default
  {
    std::vector<rapi::test::http_client> clients;
    for (int i = 0; i < 16; ++i) {
      clients.emplace_back("127.0.0.1", s.srv.api_port());
      for (int n = 0; n <= i % 3; ++n)
        BOOST_TEST(clients.back().request("GET", "/api/Agent/GetAll").status
                   == 200);
    }
  }
  auto after = lanes();
  // 16 connections made one after the other, with 1, 2 or 3 requests
  // each: lane 0 had connections 0, 2, 4, ... and this scrape.
  double want[2] = {0, 0};
  for (int i = 0; i < 16; ++i)
    want[i % 2] += 1 + i % 3;
  BOOST_TEST(after[0] - before[0] == want[0] + 1);
  BOOST_TEST(after[1] - before[1] == want[1]);
}

BOOST_AUTO_TEST_CASE(listener_threads_are_pinned_one_per_cpu) {
  // server.pin_threads (default on): with at least as many CPUs as
  // listener threads, each thread runs only on a CPU of its own, and the
  // ready line names them; otherwise (or switched off) none is pinned.
  const auto cpus = rapi::allowed_cpus(); // the servers inherit the mask
  BOOST_REQUIRE(!cpus.empty());
  {
    demo_server s;
    auto threads = thread_cpus(s.srv.pid());
    BOOST_REQUIRE(threads.count("rapi-lane-0") == 1u);
    BOOST_REQUIRE(threads.count("rapi-lane-1") == 1u); // server.threads 2
    if (cpus.size() >= 2) {
      BOOST_TEST(threads["rapi-lane-0"] == std::to_string(cpus[0]));
      BOOST_TEST(threads["rapi-lane-1"] == std::to_string(cpus[1]));
      BOOST_TEST(s.srv.output().find(
                   "\"listener_cpus\":[" + std::to_string(cpus[0]) + ","
                   + std::to_string(cpus[1]) + "]}")
                 != std::string::npos);
      // Other threads are not pinned.
      BOOST_TEST(threads["rapi-journal"] != threads["rapi-lane-0"]);
    } else {
      BOOST_TEST(threads["rapi-lane-0"] == threads["rapi-journal"]);
      BOOST_TEST(s.srv.output().find("\"listener_cpus\":[]}")
                 != std::string::npos);
    }
    BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
  }
  auto dir = make_temp_dir("rapi-cfg");
  demo_server s(
    {"--config", write_config(dir, R"({"server": {"pin_threads": false}})")});
  auto threads = thread_cpus(s.srv.pid());
  BOOST_TEST(threads["rapi-lane-0"] == threads["rapi-journal"]);
  BOOST_TEST(threads["rapi-lane-1"] == threads["rapi-journal"]);
  BOOST_TEST(s.srv.output().find("\"listener_cpus\":[]}")
             != std::string::npos);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(ready_actors_and_actor_state) {
  demo_server s;
  auto r = s.admin.get("/admin/ready");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(str((*json(r))["Status"]) == "Ready");
  r = s.admin.get("/admin/actors");
  BOOST_TEST((*json(r))["Agents"].GetInt64() == 4);
  BOOST_TEST((*json(r))["Actors"].GetInt64() == 0); // idle agents: none
  BOOST_TEST((*json(r))["ByState"]["Idle"].GetInt64() == 4);
  s.call_started("Id", "2", "c-1");
  s.api.post("/api/Blackout/StartForAgent", R"({"AgentIdentifier":"Id","Value":"2"})");
  r = s.admin.get("/admin/actors");
  BOOST_TEST((*json(r))["Actors"].GetInt64() == 1);
  BOOST_TEST((*json(r))["ByState"]["Blackout"].GetInt64() == 1);
  r = s.admin.get("/admin/actors/2");
  BOOST_TEST(r.status == 200, r.body);
  auto d = json(r);
  BOOST_TEST((*d)["Actor"]["Spawned"].GetBool());
  BOOST_REQUIRE((*d)["Actor"]["ArmedTimers"].Size() == 1u);
  BOOST_TEST(str((*d)["Actor"]["ArmedTimers"][0]["Kind"]) == "BlackoutLimit");
  BOOST_TEST(str((*d)["Agent"]["ActiveCall"]["CallInstance"]) == "c-1");
  check_error(s.admin.get("/admin/actors/77"), 404, "AgentNotFound");
}

BOOST_AUTO_TEST_CASE(admin_token_and_api_keys) {
  auto dir = make_temp_dir("rapi-cfg");
  auto cfg = write_config(dir, R"({"admin": {"token": "s3cret-admin-token"},
    "api": {"keys": ["key-one-0123456789", "key-two-0123456789"]}})");
  demo_server s({"--config", cfg});
  // Health and ready answer without credentials.
  BOOST_TEST(s.admin.get("/admin/health").status == 200);
  BOOST_TEST(s.admin.get("/admin/ready").status == 200);
  BOOST_TEST(s.api.get("/admin/health").status == 200);
  auto r = s.admin.get("/admin/metrics");
  check_error(r, 401, "Unauthorized");
  BOOST_TEST(r.header("WWW-Authenticate") == "Bearer");
  check_error(s.admin.request("GET", "/admin/actors", "",
                              {{"Authorization", "Bearer wrong"}}),
              401, "Unauthorized");
  BOOST_TEST(s.admin.request("GET", "/admin/actors", "",
                             {{"Authorization", "Bearer s3cret-admin-token"}})
               .status
             == 200);
  // The API wants a key, by either header.
  check_error(s.api.get("/api/Agent?agentIdentifier=Id&value=2"), 401,
              "Unauthorized");
  BOOST_TEST(s.api.request("GET", "/api/Agent?agentIdentifier=Id&value=2", "",
                           {{"X-Api-Key", "key-two-0123456789"}})
               .status
             == 200);
  BOOST_TEST(s.api.request("GET", "/api/Agent?agentIdentifier=Id&value=2", "",
                           {{"Authorization", "Bearer key-one-0123456789"}})
               .status
             == 200);
  check_error(s.api.request("GET", "/api/Agent?agentIdentifier=Id&value=2", "",
                            {{"X-Api-Key", "key-one-012345678"}}),
              401, "Unauthorized");
  // Secrets never reach the logs or the config endpoint.
  r = s.admin.request("GET", "/admin/config", "",
                      {{"Authorization", "Bearer s3cret-admin-token"}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find("s3cret") == std::string::npos);
  BOOST_TEST(r.body.find("key-one") == std::string::npos);
  BOOST_TEST(str((*json(r))["admin"]["token"]) == "***");
  BOOST_TEST(s.srv.stop() == 0);
  BOOST_TEST(s.srv.output().find("s3cret") == std::string::npos);
  BOOST_TEST(s.srv.output().find("key-one") == std::string::npos);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(request_logs_and_request_ids) {
  demo_server s;
  auto r = s.api.request("GET", "/api/Agent?agentIdentifier=Id&value=2", "",
                         {{"X-Request-Id", "crm-req-42"}});
  BOOST_TEST(r.header("X-Request-Id") == "crm-req-42");
  r = s.api.get("/api/Agent?agentIdentifier=Id&value=1");
  auto generated = r.header("X-Request-Id");
  BOOST_TEST(!generated.empty());
  s.api.get("/api/Agent/GetAll"); // names no one agent: "agent":null
  BOOST_TEST(s.srv.stop() == 0);
  auto out = s.srv.output();
  BOOST_TEST(out.find("\"request_id\":\"crm-req-42\"") != std::string::npos,
             out);
  BOOST_TEST(out.find("\"request_id\":\"" + generated + "\"")
             != std::string::npos);
  BOOST_TEST(out.find("\"route\":\"GET /api/Agent\",\"status\":200") != std::string::npos);
  BOOST_TEST(out.find("\"agent\":2") != std::string::npos);
  // The whole line, latency in milliseconds with three decimals.
  auto at = out.find("\"request_id\":\"crm-req-42\"");
  auto begin = out.rfind('\n', at) + 1;
  auto line = out.substr(begin, out.find('\n', at) - begin);
  BOOST_TEST(std::regex_match(
               line, std::regex(R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})"
                                R"(\+00:00","level":"info","event":"request",)"
                                R"("request_id":"crm-req-42","listener":"api",)"
                                R"("method":"GET","route":"GET /api/Agent",)"
                                R"("status":200,"latency_ms":\d+\.\d{3},"agent":2\})")),
             line);
  BOOST_TEST(out.find("\"agent\":null") != std::string::npos);
  BOOST_TEST(out.find("\"event\":\"ready\"") != std::string::npos);
  BOOST_TEST(out.find("\"event\":\"stopped\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(configuration_sources_and_errors) {
  auto dir = make_temp_dir("rapi-cfg");
  auto cfg = write_config(dir, R"({"blackout": {"maxagentblackout": 30},
                                   "log": {"level": "warn"}})");
  // The environment overrides the file; flags override both.
  server_options o;
  o.extra_args = {"--config", cfg, "--agents", demo_agents_file()};
  o.env = {{"RECORDING_API__BLACKOUT__MAXAGENTBLACKOUT", "45"},
           {"RECORDING_API__LIMITS__METADATA_MAX_KEYS", "8"},
           {"RECORDING_API__SERVER__TIME_ZONE", "America/New_York"}};
  server_process srv(o);
  auto admin = srv.admin();
  auto r = admin.get("/admin/config");
  auto d = json(r);
  BOOST_TEST((*d)["blackout"]["maxagentblackout"].GetInt64() == 45);
  BOOST_TEST((*d)["limits"]["metadata_max_keys"].GetInt64() == 8);
  BOOST_TEST(str((*d)["server"]["time_zone"]) == "America/New_York");
  BOOST_TEST(str((*d)["log"]["level"]) == "warn");
  BOOST_TEST(srv.stop() == 0);
  // warn: no request lines.
  BOOST_TEST(srv.output().find("\"event\":\"request\"") == std::string::npos);
  // Bad values and unknown keys stop start-up naming the key.
  auto bad = run_binary({"--config", cfg}, {{"RECORDING_API__SERVER__PORT", "http"}});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.output.find("server.port") != std::string::npos, bad.output);
  bad = run_binary({"--config", cfg}, {{"RECORDING_API__SERVER__COLOUR", "blue"}});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.output.find("server.colour") != std::string::npos, bad.output);
  bad = run_binary({"--config", cfg}, {{"RECORDING_API__NOPE", "1"}});
  BOOST_TEST(bad.exit_code == 2);
  bad = run_binary({"--config", write_config(dir, R"({"log": {"level": "loud"}})")});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.output.find("log.level") != std::string::npos, bad.output);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(shipped_config_is_valid) {
  // The documented config file loads as it is (ports overridden).
  auto dir = make_temp_dir();
  server_options o;
  o.extra_args = {"--config", std::string(RAPI_SOURCE_DIR)
                                + "/config/recording-api.json"};
  o.data_dir = dir;
  server_process srv(o);
  BOOST_TEST(srv.api().get("/api/Agent/GetAll").status == 200);
  BOOST_TEST(srv.stop() == 0);
  remove_dir(dir);
}

BOOST_AUTO_TEST_SUITE_END()
