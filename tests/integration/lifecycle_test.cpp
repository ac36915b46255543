/// Start-up, shutdown and restart of the real binary.

#include <atomic>
#include <fstream>
#include <sys/stat.h>
#include <thread>

#include <boost/test/unit_test.hpp>

#include <vector>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(help_and_bad_flags) {
  auto r = run_binary({"--help"});
  BOOST_TEST(r.exit_code == 0);
  for (auto flag : {"--config", "--port", "--admin-port", "--data-dir",
                    "--agents", "--bind"})
    BOOST_TEST(r.output.find(flag) != std::string::npos, flag);
  r = run_binary({"--port", "http"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output.find("--port") != std::string::npos);
  r = run_binary({"--frobnicate"});
  BOOST_TEST(r.exit_code == 2);
  auto dir = make_temp_dir();
  r = run_binary({"--port", "0", "--admin-port", "0", "--data-dir", dir,
                  "--agents", dir + "/missing.json"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("missing.json") != std::string::npos);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(config_file_errors_name_the_key) {
  auto dir = make_temp_dir();
  auto write = [&](const std::string& text) {
    FILE* f = std::fopen((dir + "/c.json").c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  write(R"({"server": {"prot": 1}})");
  auto r = run_binary({"--config", dir + "/c.json"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output.find("server.prot") != std::string::npos, r.output);
  write(R"({"blackout": {"maxagentblackout": "ten"}})");
  r = run_binary({"--config", dir + "/c.json"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output.find("blackout.maxagentblackout") != std::string::npos);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(sigterm_exits_zero) {
  demo_server s;
  BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
  BOOST_TEST(s.srv.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_with_connections_left_open_exits_cleanly) {
  // Keep-alive connections on both lanes, idle when the server stops: each
  // connection's timer lives on the first lane, so ending the lanes must
  // not free one lane's services while another still holds such a
  // connection (the ASan run of this test reported a use after free).
  demo_server s;
  std::vector<http_client> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(s.api);
    BOOST_TEST(clients.back().get("/api/Agent/GetAll").status == 200);
  }
  BOOST_TEST(s.srv.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_CASE(sigint_exits_zero) {
  demo_server s;
  BOOST_TEST(s.srv.stop(SIGINT) == 0);
}

BOOST_AUTO_TEST_CASE(second_server_on_same_data_is_refused) {
  demo_server s;
  auto r = run_binary({"--port", "0", "--admin-port", "0", "--data-dir",
                       s.srv.data_dir()});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("RocksDB") != std::string::npos, r.output);
  BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
}

BOOST_AUTO_TEST_CASE(second_server_on_a_taken_port_is_refused) {
  // The API listeners share their port between the listener threads
  // (SO_REUSEPORT): a second server must still fail to bind it, not join
  // in and take part of the first one's connections.
  demo_server s;
  auto dir = make_temp_dir();
  auto r = run_binary({"--port", std::to_string(s.srv.api_port()),
                       "--admin-port", "0", "--data-dir", dir});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("cannot listen on")
               != std::string::npos, r.output);
  BOOST_TEST(r.output.find(":" + std::to_string(s.srv.api_port()))
               != std::string::npos, r.output);
  BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(restart_keeps_every_acknowledged_change) {
  demo_server s;
  s.admin.put("/admin/agents/30", R"({"AgentPhone":"3000","Username":"thirty"})");
  s.call_started("Id", "2", "c-1", R"(,"Ani":"111")");
  s.call_started("Id", "2", "c-2");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user1":"kept"}})");
  auto running_id = str((*json(r))["RecordingIdentifier"]);
  s.api.post("/api/Record/StartDuplicateForAgent",
             R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"c-1"})");
  s.api.post("/api/ScreenRecord/StartForAgent",
             R"({"AgentIdentifier":"Phone","Value":"7000"})");
  s.api.post("/api/Blackout/StartForAgent", R"({"AgentIdentifier":"Id","Value":"1"})");
  s.call_started("Id", "3", "c-3");
  r = s.api.post("/api/Record/StartForAgent", R"({"AgentIdentifier":"Id","Value":"3"})");
  auto done_id = str((*json(r))["RecordingIdentifier"]);
  s.cti("Id", "3", "CallEnded", "c-3");
  s.admin.del("/admin/agents/4");

  auto before2 = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  auto before1 = s.api.get("/api/Agent?agentIdentifier=Id&value=1").body;
  auto before30 = s.api.get("/api/Agent?agentIdentifier=Id&value=30").body;
  auto done_before = s.api.get("/api/Recordings/" + done_id).body;

  BOOST_TEST(s.srv.stop(SIGTERM) == 0);
  s.srv.start();
  s.reconnect();

  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == before2);
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=1").body == before1);
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=30").body
             == before30);
  BOOST_TEST(s.api.get("/api/Recordings/" + done_id).body == done_before);
  // The agents file re-creates agent 4, deleted before the restart.
  BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
  // Work goes on where it stopped.
  r = s.api.post("/api/Record/StopForAgent", R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["RecordingIdentifier"]) == running_id);
  BOOST_TEST(str((*json(r))["Metadata"]["user1"]) == "kept");
}

BOOST_AUTO_TEST_CASE(kill_9_keeps_acknowledged_changes) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_REQUIRE(r.status == 200);
  auto before = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  s.srv.kill9();
  s.srv.start();
  s.reconnect();
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == before);
}

BOOST_AUTO_TEST_CASE(kill_9_before_the_journal_is_folded_keeps_acknowledged_changes) {
  // Nothing is folded into RocksDB before the kill: every change is only
  // in the journal (docs/durability.md), and the restart replays it.
  auto cfg = make_temp_dir("rapi-cfg");
  {
    std::ofstream f(cfg + "/c.json");
    f << R"({"storage": {"journal_fold_ms": 60000}})";
  }
  demo_server s({"--config", cfg + "/c.json"});
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_REQUIRE(r.status == 200);
  auto id = str((*json(r))["RecordingIdentifier"]);
  r = s.api.post("/api/Record/UpdateForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"k":"v"}})");
  BOOST_REQUIRE(r.status == 200);
  auto agent = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  auto recording = s.api.get("/api/Recordings/" + id).body;
  s.srv.kill9();
  s.srv.start();
  s.reconnect();
  BOOST_TEST(s.srv.output().find("replayed") != std::string::npos,
             s.srv.output());
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == agent);
  BOOST_TEST(s.api.get("/api/Recordings/" + id).body == recording);
  // The recordings query scans RocksDB: it sees a journaled recording too.
  r = s.api.post("/api/Cti/Events",
                 R"({"AgentIdentifier":"Id","Value":"3","Type":"CallStarted","CallId":"c-3"})");
  BOOST_REQUIRE(r.status == 200);
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Id","Value":"3"})");
  BOOST_REQUIRE(r.status == 200);
  auto id3 = str((*json(r))["RecordingIdentifier"]);
  auto q = s.api.get("/api/Recordings?agentId=3");
  BOOST_TEST(q.status == 200);
  BOOST_TEST(q.body.find(id3) != std::string::npos, q.body);
  // With the journal turned off, what it still held is replayed all the
  // same, and its file goes.
  s.srv.kill9();
  {
    std::ofstream f(cfg + "/c.json");
    f << R"({"storage": {"journal_mb": 0}})";
  }
  s.srv.start();
  s.reconnect();
  q = s.api.get("/api/Recordings?agentId=3");
  BOOST_TEST(q.body.find(id3) != std::string::npos, q.body);
  struct stat st;
  BOOST_TEST(::stat((s.srv.data_dir() + "/journal").c_str(), &st) != 0);
  remove_dir(cfg);
}

BOOST_AUTO_TEST_CASE(sigterm_under_load_answers_or_refuses_every_request) {
  demo_server s;
  std::atomic<bool> go{true};
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto c = s.srv.api();
      auto id = std::to_string(t + 1);
      while (go.load()) {
        try {
          auto r = c.post("/api/Blackout/StartForAgent",
                          R"({"AgentIdentifier":"Id","Value":")" + id
                            + R"("})");
          if (r.status == 200)
            ++ok;
          else if (r.status == 503 || r.status == 0)
            ++refused; // refused while stopping, or connection closed
          else
            ++other;
        } catch (const std::exception&) {
          ++refused; // connection refused once the listener is closed
          return;
        }
      }
    });
  }
  BOOST_REQUIRE(poll_until([&] { return ok.load() > 200; },
                           std::chrono::seconds(10)));
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(s.srv.stop(SIGTERM) == 0);
  auto took = std::chrono::steady_clock::now() - t0;
  go = false;
  for (auto& c : clients)
    c.join();
  BOOST_TEST(other.load() == 0);
  BOOST_TEST((took < std::chrono::seconds(15)));
  BOOST_TEST(s.srv.output().find("\"event\":\"stopped\"") != std::string::npos);
}

/// Four clients at once start and stop a blackout ten times each, for
/// agents 1 to 4; how many of the 80 requests were answered 200.
int blackout_churn(demo_server& s) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto c = s.srv.api();
      auto id = std::to_string(t + 1);
      for (int i = 0; i < 10; ++i) {
        auto r = c.post("/api/Blackout/StartForAgent",
                        R"({"AgentIdentifier":"Id","Value":")" + id + R"("})");
        ok += r.status == 200;
        r = c.post("/api/Blackout/StopForAgent",
                   R"({"AgentIdentifier":"Id","Value":")" + id + R"("})");
        ok += r.status == 200;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  return ok.load();
}

/// A server with `config` (a config file's text) takes blackout churn from
/// several clients and a recording start; after a restart (`kill -9` or
/// SIGTERM) the agent reads as before.
void churn_then_restart(const char* config, bool kill9) {
  auto dir = make_temp_dir("rapi-cfg");
  {
    FILE* f = std::fopen((dir + "/c.json").c_str(), "w");
    std::fputs(config, f);
    std::fclose(f);
  }
  demo_server s({"--config", dir + "/c.json"});
  s.call_started("Id", "2", "c-1");
  BOOST_TEST(blackout_churn(s) == 80);
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_REQUIRE(r.status == 200);
  auto before = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  if (kill9)
    s.srv.kill9();
  else
    BOOST_TEST(s.srv.stop(SIGTERM) == 0);
  s.srv.start();
  s.reconnect();
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == before);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(sync_mode_group_commit_keeps_changes) {
  // Several agents at once, so commits can share a flush.
  churn_then_restart(R"({"storage": {"sync": true}})", true);
}

BOOST_AUTO_TEST_CASE(actors_on_their_own_threads_serve_and_keep_changes) {
  // server.actor_threads 2: CAF's own scheduler instead of the HTTP threads.
  churn_then_restart(R"({"server": {"actor_threads": 2}})", false);
}

BOOST_AUTO_TEST_SUITE_END()
