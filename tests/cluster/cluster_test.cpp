/// Spec §6 (Cluster) and §8 (`GET /admin/cluster`) with real servers and the
/// real broker: blackout changes made on one server show on the others,
/// conflicting changes converge, a broker outage or a killed server loses
/// nothing, a new server fills itself from its peers, and duplicate, stale
/// or early (unknown agent) messages are handled as the contract says.
///
/// Every test case uses an exchange and server ids of its own, so it never
/// sees another case's servers or queues. Events are ordered by polling,
/// never by sleeping.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <boost/test/unit_test.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include "common/time_util.hpp"
#include "common/uuid.hpp"
#include "tests/integration/fixture.hpp"

using namespace rapi::test;
using namespace std::chrono_literals;

namespace {

using ms = std::chrono::milliseconds;

rapi::timestamp wall_ms() {
  return std::chrono::duration_cast<ms>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

const std::string& amqp_url() {
  static const std::string url = [] {
    const char* u = std::getenv("RAPI_AMQP_URL");
    return std::string(u != nullptr ? u : "");
  }();
  BOOST_REQUIRE_MESSAGE(!url.empty(),
                        "RAPI_AMQP_URL is not set: run the suite through "
                        "scripts/test.sh, which starts the broker (or start "
                        "one with scripts/rabbitmq.sh and export "
                        "RAPI_AMQP_URL, RAPI_BROKER_DIR, RAPI_BROKER_SCRIPT)");
  return url;
}

/// A name no other test case (or run) uses.
std::string unique_tag() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(wall_ms()) + "-"
         + std::to_string(++counter);
}

std::string text_of(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

/// The fields of a Blackout object the tests look at, and its full text.
struct blackout_view {
  bool ok = false;
  bool active = false;
  std::string start;
  std::string stop;
  std::string origin;
  std::string text;
};

blackout_view view(const std::string& text) {
  blackout_view v;
  v.text = text;
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("Active")
      || !d["Active"].IsBool() || !d.HasMember("StartTime")
      || !d.HasMember("StopTime") || !d.HasMember("Origin"))
    return v;
  v.ok = true;
  v.active = d["Active"].GetBool();
  v.start = str(d["StartTime"]);
  v.stop = str(d["StopTime"]);
  v.origin = str(d["Origin"]);
  return v;
}

std::string agent_body(int agent, const std::string& extra = "") {
  return R"({"AgentIdentifier":"Id","Value":")" + std::to_string(agent) + "\""
         + extra + "}";
}

const std::string start_path = "/api/Blackout/StartForAgent";
const std::string stop_path = "/api/Blackout/StopForAgent";

/// One recording-api server with the cluster enabled, on the test's
/// broker and exchange, with the demo agents (1-4).
class cluster_server {
public:
  cluster_server(std::string id, const std::string& exchange)
    : id_(std::move(id)), broker_(amqp_url()),
      conf_dir_(make_temp_dir("rapi-cluster-conf")) {
    auto path = conf_dir_ + "/config.json";
    std::ofstream(path) << R"({"cluster":{"enabled":true,"server_id":")"
                        << id_ << R"(","brokers":[")" << broker_
                        << R"("],"exchange":")" << exchange << "\"}}";
    server_options o;
    o.extra_args = {"--config", path, "--agents", demo_agents_file()};
    try {
      srv_ = std::make_unique<server_process>(o);
    } catch (...) {
      remove_dir(conf_dir_);
      throw;
    }
    reconnect();
  }

  ~cluster_server() {
    srv_.reset();
    remove_dir(conf_dir_);
  }

  cluster_server(const cluster_server&) = delete;
  cluster_server& operator=(const cluster_server&) = delete;

  const std::string& id() const { return id_; }
  server_process& process() { return *srv_; }
  http_client& api() { return api_; }
  http_client& admin() { return admin_; }

  void kill9() { srv_->kill9(); }

  void restart() {
    srv_->start();
    reconnect();
  }

  http_response post(const std::string& path, const std::string& body) {
    return api_.post(path, body);
  }

  /// The agent's Blackout object as `GET /api/Agent` shows it (re-rendered
  /// compactly), or "" when that did not answer 200 with one.
  std::string blackout(int agent) {
    try {
      auto r = api_.get("/api/Agent?agentIdentifier=Id&value="
                        + std::to_string(agent));
      if (r.status != 200)
        return "";
      rapidjson::Document d;
      d.Parse(r.body.c_str(), r.body.size());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("Blackout"))
        return "";
      return text_of(d["Blackout"]);
    } catch (const std::exception&) {
      api_ = srv_->api();
      return "";
    }
  }

  /// `GET /admin/cluster`, parsed.
  std::shared_ptr<rapidjson::Document> status() {
    auto r = admin_.get("/admin/cluster");
    last_status_ = r.body;
    BOOST_REQUIRE_MESSAGE(r.status == 200, "GET /admin/cluster on "
                                             << id_ << ": " << r.status
                                             << " " << r.body);
    return json(r);
  }

  const std::string& last_status() const { return last_status_; }

private:
  void reconnect() {
    api_ = srv_->api();
    admin_ = srv_->admin();
  }

  std::string id_;
  std::string broker_;
  std::string conf_dir_;
  std::unique_ptr<server_process> srv_;
  http_client api_{"127.0.0.1", 0};
  http_client admin_{"127.0.0.1", 0};
  std::string last_status_;
};

std::string member_text(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject() || !obj.HasMember(name))
    return "<absent>";
  return str(obj[name]);
}

std::int64_t member_int(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject() || !obj.HasMember(name) || !obj[name].IsInt64())
    return -1;
  return obj[name].GetInt64();
}

std::string publisher_state(const rapidjson::Document& s) {
  return s.HasMember("Broker") ? member_text(s["Broker"], "Publisher")
                               : "<absent>";
}

std::string consumer_state(const rapidjson::Document& s) {
  return s.HasMember("Broker") ? member_text(s["Broker"], "Consumer")
                               : "<absent>";
}

bool has_peer(const rapidjson::Document& s, const std::string& id) {
  if (!s.HasMember("Peers") || !s["Peers"].IsArray())
    return false;
  for (auto& p : s["Peers"].GetArray())
    if (member_text(p, "ServerId") == id)
      return true;
  return false;
}

/// Waits until every server is connected to the broker (publisher and
/// consumer, so its queue is bound) and has done its start-up sync.
void wait_ready(const std::vector<cluster_server*>& servers) {
  for (auto* s : servers) {
    bool ready = poll_until(
      [&] {
        auto st = s->status();
        return publisher_state(*st) == "connected"
               && consumer_state(*st) == "connected"
               && st->HasMember("Synced") && (*st)["Synced"].IsBool()
               && (*st)["Synced"].GetBool();
      },
      15s);
    BOOST_REQUIRE_MESSAGE(ready, "server " << s->id()
                                           << " did not connect and sync: "
                                           << s->last_status());
  }
}

/// Polls until every server shows the same Blackout for `agent` and it
/// satisfies `want`; on failure, reports what each server shows.
bool await_same(const std::vector<cluster_server*>& servers, int agent,
                const std::function<bool(const blackout_view&)>& want,
                std::string& seen_text, ms deadline = 10s) {
  std::vector<std::string> seen(servers.size());
  bool ok = poll_until(
    [&] {
      for (std::size_t i = 0; i < servers.size(); ++i)
        seen[i] = servers[i]->blackout(agent);
      for (auto& t : seen)
        if (t != seen.front())
          return false;
      auto v = view(seen.front());
      return v.ok && want(v);
    },
    deadline);
  std::ostringstream what;
  for (std::size_t i = 0; i < servers.size(); ++i)
    what << "\n  " << servers[i]->id() << ": " << seen[i];
  BOOST_CHECK_MESSAGE(ok, "agent " << agent
                                   << " did not converge as expected:"
                                   << what.str());
  seen_text = seen.front();
  return ok;
}

bool await_same(const std::vector<cluster_server*>& servers, int agent,
                const std::function<bool(const blackout_view&)>& want,
                ms deadline = 10s) {
  std::string ignored;
  return await_same(servers, agent, want, ignored, deadline);
}

/// Runs the broker script's `start` or `stop` on the test's broker.
bool broker_command(const std::string& cmd) {
  const char* script = std::getenv("RAPI_BROKER_SCRIPT");
  const char* dir = std::getenv("RAPI_BROKER_DIR");
  if (script == nullptr || dir == nullptr)
    return false;
  // From the broker's folder, so nothing it drops lands in ours.
  std::string line = "cd '" + std::string(dir) + "' && bash '" + script
                     + "' " + cmd + " '" + dir + "' >/dev/null";
  return std::system(line.c_str()) == 0;
}

/// Stops the broker; restarts it on `restart()` or, should the test fail
/// before, on destruction, so later test cases still have one.
class broker_outage {
public:
  broker_outage() {
    BOOST_REQUIRE_MESSAGE(std::getenv("RAPI_BROKER_SCRIPT") != nullptr
                            && std::getenv("RAPI_BROKER_DIR") != nullptr,
                          "RAPI_BROKER_SCRIPT / RAPI_BROKER_DIR are not set "
                          "(scripts/test.sh exports them)");
    BOOST_REQUIRE_MESSAGE(broker_command("stop"), "cannot stop the broker");
    down_ = true;
  }
  ~broker_outage() {
    if (down_)
      broker_command("start");
  }
  broker_outage(const broker_outage&) = delete;
  broker_outage& operator=(const broker_outage&) = delete;

  void restart() {
    down_ = false;
    BOOST_REQUIRE_MESSAGE(broker_command("start"),
                          "cannot restart the broker");
  }

private:
  bool down_ = false;
};

/// A version-1 Blackout message as a peer would publish it.
std::string raw_blackout(const std::string& origin, std::int64_t agent,
                         bool active, rapi::timestamp start,
                         std::optional<rapi::timestamp> stop,
                         rapi::timestamp version_wall) {
  std::string b = R"({"V":1,"Type":"Blackout","EventId":")"
                  + rapi::make_uuid() + R"(","Origin":")" + origin
                  + R"(","AgentId":)" + std::to_string(agent)
                  + R"(,"Blackout":{"Active":)" + (active ? "true" : "false")
                  + R"(,"StartTime":")" + rapi::format_time(start)
                  + R"(","StopTime":)"
                  + (stop ? "\"" + rapi::format_time(*stop) + "\"" : "null")
                  + R"(,"ScheduledStopTime":null,"Origin":")" + origin
                  + R"(","ScheduledStartTime":null,"History":[)";
  if (stop)
    b += R"({"StartTime":")" + rapi::format_time(start) + R"(","StopTime":")"
         + rapi::format_time(*stop) + "\"}";
  b += R"(],"Version":{"Wall":)" + std::to_string(version_wall)
       + R"(,"Logical":0}}})";
  return b;
}

/// Publishes `bodies`, in order, to `exchange` over a connection of its
/// own (declaring nothing), as persistent JSON messages.
void publish_raw(const std::string& exchange,
                 const std::vector<std::string>& bodies) {
  std::string url = amqp_url();
  amqp_connection_info info;
  BOOST_REQUIRE(amqp_parse_url(url.data(), &info) == AMQP_STATUS_OK);
  auto conn = amqp_new_connection();
  auto* sock = amqp_tcp_socket_new(conn);
  BOOST_REQUIRE(sock != nullptr);
  BOOST_REQUIRE(amqp_socket_open(sock, info.host, info.port)
                == AMQP_STATUS_OK);
  auto login = amqp_login(conn, info.vhost, 0, 131072, 0,
                          AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  BOOST_REQUIRE(login.reply_type == AMQP_RESPONSE_NORMAL);
  amqp_channel_open(conn, 1);
  BOOST_REQUIRE(amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = 2;
  props.content_type = amqp_cstring_bytes("application/json");
  for (auto& body : bodies) {
    amqp_bytes_t bytes{body.size(), const_cast<char*>(body.data())};
    BOOST_REQUIRE(amqp_basic_publish(conn, 1,
                                     amqp_cstring_bytes(exchange.c_str()),
                                     amqp_empty_bytes, 0, 0, &props, bytes)
                  == AMQP_STATUS_OK);
  }
  // channel.close is answered only after the broker routed what came
  // before it on the channel.
  BOOST_CHECK(amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS).reply_type
              == AMQP_RESPONSE_NORMAL);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

/// Sends the two requests from two threads at the same moment (each on a
/// connection opened beforehand); returns their statuses (-1: no answer).
std::pair<int, int> fire_together(cluster_server& a, const std::string& pa,
                                  const std::string& ba, cluster_server& b,
                                  const std::string& pb,
                                  const std::string& bb) {
  auto ca = a.process().api();
  auto cb = b.process().api();
  ca.get("/admin/health");
  cb.get("/admin/health");
  std::atomic<int> ready{0};
  auto run = [&ready](http_client& c, const std::string& path,
                      const std::string& body, int& status) {
    ready.fetch_add(1);
    while (ready.load() < 2)
      std::this_thread::yield();
    try {
      status = c.post(path, body).status;
    } catch (const std::exception&) {
      status = -1;
    }
  };
  int sa = 0;
  int sb = 0;
  std::thread ta(run, std::ref(ca), std::cref(pa), std::cref(ba),
                 std::ref(sa));
  std::thread tb(run, std::ref(cb), std::cref(pb), std::cref(bb),
                 std::ref(sb));
  ta.join();
  tb.join();
  return {sa, sb};
}

/// A test case's exchange and server ids.
struct names {
  std::string tag = unique_tag();
  std::string exchange = "rapi-test-" + tag;
  std::string id(const std::string& letter) const {
    return letter + "-" + tag;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(start_on_one_server_shows_on_the_other) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});

  auto r = a.post(start_path, agent_body(2));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto started = view(r.body);
  BOOST_REQUIRE(started.ok);
  BOOST_TEST(started.active);
  BOOST_TEST(started.origin == a.id());

  bool seen = poll_until([&] {
    auto v = view(b.blackout(2));
    return v.ok && v.active;
  });
  auto on_b = view(b.blackout(2));
  BOOST_REQUIRE_MESSAGE(seen, "B never showed the blackout: " << on_b.text);
  BOOST_TEST(on_b.start == started.start);
  BOOST_TEST(on_b.origin == a.id());
  BOOST_TEST(on_b.text == a.blackout(2));
  // Other agents are untouched.
  BOOST_TEST(!view(b.blackout(1)).active);
}

BOOST_AUTO_TEST_CASE(stop_on_the_other_server_closes_the_same_blackout) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});

  auto r = a.post(start_path, agent_body(2));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto started = view(r.body);
  BOOST_REQUIRE(await_same({&a, &b}, 2, [&](const blackout_view& v) {
    return v.active && v.start == started.start;
  }));

  r = b.post(stop_path, agent_body(2));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto stopped = view(r.body);
  BOOST_REQUIRE(stopped.ok);
  BOOST_TEST(!stopped.active);
  BOOST_TEST(stopped.start == started.start);
  BOOST_TEST(stopped.stop != "null");
  BOOST_TEST(stopped.origin == b.id());

  std::string both;
  BOOST_REQUIRE(await_same({&a, &b}, 2, [&](const blackout_view& v) {
    return !v.active;
  }, both));
  BOOST_TEST(both == stopped.text);
}

BOOST_AUTO_TEST_CASE(concurrent_conflicting_changes_converge) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});

  // Every mix of start and stop, fired on both servers at once, without
  // waiting for the mirror in between.
  const std::vector<std::pair<std::string, std::string>> rounds = {
    {start_path, start_path}, {stop_path, stop_path},
    {start_path, stop_path},  {stop_path, start_path},
    {start_path, start_path}, {stop_path, stop_path},
    {start_path, start_path}, {stop_path, start_path}};
  for (std::size_t i = 0; i < rounds.size(); ++i) {
    for (int agent : {2, 3}) {
      auto [sa, sb] = fire_together(a, rounds[i].first, agent_body(agent), b,
                                    rounds[i].second, agent_body(agent));
      BOOST_TEST_CONTEXT("round " << i << " agent " << agent) {
        BOOST_TEST(sa == 200);
        BOOST_TEST(sb == 200);
      }
    }
  }
  // Whatever won, every server shows the same Blackout.
  for (int agent : {2, 3})
    await_same({&a, &b}, agent, [](const blackout_view&) { return true; });
}

BOOST_AUTO_TEST_CASE(a_change_reaches_every_other_server) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  cluster_server c(n.id("c"), n.exchange);
  wait_ready({&a, &b, &c});

  auto r = b.post(start_path, agent_body(1));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto started = view(r.body);
  BOOST_REQUIRE(await_same({&a, &b, &c}, 1, [&](const blackout_view& v) {
    return v.active && v.start == started.start && v.origin == b.id();
  }));

  r = c.post(stop_path, agent_body(1));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  std::string all;
  BOOST_REQUIRE(await_same({&a, &b, &c}, 1, [&](const blackout_view& v) {
    return !v.active && v.origin == c.id();
  }, all));
  BOOST_TEST(all == view(r.body).text);
}

BOOST_AUTO_TEST_CASE(changes_made_while_the_broker_is_down_arrive_later) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});
  auto now = wall_ms();

  broker_outage outage;
  // The API keeps answering; each side changes an agent of its own, and
  // both start agent 4 (at different times: a conflict).
  auto r = a.post(start_path, agent_body(1));
  BOOST_TEST(r.status == 200, r.body);
  auto a1 = view(r.body);
  r = a.post(start_path,
             agent_body(4, R"(,"BlackoutStartTime":")"
                             + rapi::format_time(now - 20'000) + "\""));
  BOOST_TEST(r.status == 200, r.body);
  r = b.post(start_path, agent_body(3));
  BOOST_TEST(r.status == 200, r.body);
  auto b3 = view(r.body);
  r = b.post(start_path,
             agent_body(4, R"(,"BlackoutStartTime":")"
                             + rapi::format_time(now - 10'000) + "\""));
  BOOST_TEST(r.status == 200, r.body);
  for (auto* s : {&a, &b}) {
    auto g = s->api().get("/api/Agent?agentIdentifier=Id&value=2");
    BOOST_TEST(g.status == 200, g.body);
  }

  // Both notice the outage and keep their two changes in the outbox.
  for (auto* s : {&a, &b}) {
    bool down = poll_until(
      [&] {
        auto st = s->status();
        return publisher_state(*st) == "disconnected"
               && member_int(*st, "OutboxDepth") > 0;
      },
      10s);
    BOOST_CHECK_MESSAGE(down, s->id() << " while the broker is down: "
                                      << s->last_status());
    auto st = s->status();
    BOOST_CHECK_MESSAGE(member_int(*st, "OutboxDepth") >= 2,
                        s->id() << " made 2 changes while the broker was "
                                   "down, yet shows: "
                                << s->last_status());
  }
  // Still answering while disconnected.
  BOOST_TEST(a.api().get("/api/Agent?agentIdentifier=Id&value=1").status
             == 200);

  outage.restart();
  await_same({&a, &b}, 1, [&](const blackout_view& v) {
    return v.active && v.start == a1.start && v.origin == a.id();
  }, 30s);
  await_same({&a, &b}, 3, [&](const blackout_view& v) {
    return v.active && v.start == b3.start && v.origin == b.id();
  }, 30s);
  await_same({&a, &b}, 4, [&](const blackout_view& v) {
    return v.active
           && (v.start == rapi::format_time(now - 20'000)
               || v.start == rapi::format_time(now - 10'000));
  }, 30s);
  for (auto* s : {&a, &b}) {
    bool drained = poll_until(
      [&] {
        auto st = s->status();
        return publisher_state(*st) == "connected"
               && consumer_state(*st) == "connected"
               && member_int(*st, "OutboxDepth") == 0;
      },
      15s);
    BOOST_CHECK_MESSAGE(drained, s->id() << " after the broker came back: "
                                         << s->last_status());
  }
}

BOOST_AUTO_TEST_CASE(restarted_and_new_servers_catch_up) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});

  a.kill9();
  auto r = b.post(start_path, agent_body(1));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto b1 = view(r.body);
  r = b.post(start_path, agent_body(3));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  r = b.post(stop_path, agent_body(3));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto b3 = view(r.body);
  // Published (confirmed by the broker): now waiting in A's durable queue.
  BOOST_REQUIRE_MESSAGE(poll_until([&] {
    return member_int(*b.status(), "OutboxDepth") == 0;
  }), b.last_status());

  a.restart();
  await_same({&a, &b}, 1, [&](const blackout_view& v) {
    return v.active && v.start == b1.start && v.origin == b.id();
  });
  await_same({&a, &b}, 3, [&](const blackout_view& v) {
    return v.text == b3.text;
  });
  // A change on the restarted server still reaches the other.
  r = a.post(start_path, agent_body(4));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  auto a4 = view(r.body);
  await_same({&a, &b}, 4, [&](const blackout_view& v) {
    return v.text == a4.text;
  });

  // A server that did not exist during any of it fills itself from its
  // peers' answers to its SyncRequest.
  std::vector<std::pair<int, std::string>> want;
  for (int agent : {1, 3, 4})
    want.emplace_back(agent, b.blackout(agent));
  cluster_server c(n.id("c"), n.exchange);
  std::string seen;
  bool filled = poll_until(
    [&] {
      seen.clear();
      bool all = true;
      for (auto& [agent, text] : want) {
        auto got = c.blackout(agent);
        seen += "\n  agent " + std::to_string(agent) + ": " + got;
        all = all && got == text;
      }
      return all;
    },
    10s);
  c.status();
  BOOST_CHECK_MESSAGE(filled, "new server " << c.id()
                                            << " did not get its peers' "
                                               "state; it shows:"
                                            << seen << "\n  status: "
                                            << c.last_status());
}

BOOST_AUTO_TEST_CASE(duplicate_stale_and_early_messages) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});
  std::vector<cluster_server*> both{&a, &b};
  auto counters = [](cluster_server& s) {
    auto st = s.status();
    return std::pair{member_int(*st, "Applied"),
                     member_int(*st, "Duplicates")};
  };
  auto a0 = counters(a);
  auto b0 = counters(b);

  const std::string peer = "raw-" + n.tag;
  auto now = wall_ms();
  auto newer = raw_blackout(peer, 2, true, now - 1000, std::nullopt,
                            now + 2000);
  auto older = raw_blackout(peer, 2, false, now - 9000, now - 8000,
                            now - 60'000);
  publish_raw(n.exchange, {newer, newer, older});

  // Two applied (the newer one, then the stale one), one duplicate.
  for (auto [s, base] : {std::pair{&a, a0}, std::pair{&b, b0}}) {
    bool done = poll_until([&, s = s, base = base] {
      auto c = counters(*s);
      return c.first >= base.first + 2 && c.second >= base.second + 1;
    });
    BOOST_CHECK_MESSAGE(done, s->id() << " did not take the three messages: "
                                      << s->last_status());
  }
  for (auto* s : both) {
    auto v = view(s->blackout(2));
    BOOST_TEST_CONTEXT(s->id() << ": " << v.text) {
      BOOST_TEST(v.active);
      BOOST_TEST(v.start == rapi::format_time(now - 1000));
      BOOST_TEST(v.stop == "null");
      BOOST_TEST(v.origin == peer);
    }
  }
  BOOST_TEST(a.blackout(2) == b.blackout(2));

  // A blackout for an agent not provisioned yet waits for it.
  auto early = raw_blackout(peer, 999, true, now - 500, std::nullopt,
                            now + 3000);
  publish_raw(n.exchange, {early});
  for (auto [s, base] : {std::pair{&a, a0}, std::pair{&b, b0}}) {
    BOOST_CHECK_MESSAGE(poll_until([&, s = s, base = base] {
      return counters(*s).first >= base.first + 3;
    }), s->id() << " did not take the message for agent 999: "
                << s->last_status());
  }
  auto g = a.api().get("/api/Agent?agentIdentifier=Id&value=999");
  BOOST_TEST(g.status == 404, g.body);
  for (auto* s : both) {
    auto p = s->admin().put("/admin/agents/999", R"({"AgentPhone":"999"})");
    BOOST_REQUIRE_MESSAGE(p.status == 200, p.body);
  }
  await_same(both, 999, [&](const blackout_view& v) {
    return v.active && v.start == rapi::format_time(now - 500)
           && v.origin == peer;
  });
}

BOOST_AUTO_TEST_CASE(admin_cluster_status) {
  names n;
  cluster_server a(n.id("a"), n.exchange);
  cluster_server b(n.id("b"), n.exchange);
  wait_ready({&a, &b});

  auto r = b.post(start_path, agent_body(1));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  bool seen = poll_until([&] { return has_peer(*a.status(), b.id()); });
  BOOST_CHECK_MESSAGE(seen, "A never listed B as a peer: " << a.last_status());

  auto st = a.status();
  auto& s = *st;
  BOOST_TEST_CONTEXT(a.last_status()) {
    BOOST_REQUIRE(s.IsObject());
    BOOST_TEST(member_text(s, "ServerId") == a.id());
    BOOST_REQUIRE(s.HasMember("Broker"));
    BOOST_REQUIRE(s["Broker"].IsObject());
    BOOST_TEST(member_text(s["Broker"], "Publisher") == "connected");
    BOOST_TEST(member_text(s["Broker"], "Consumer") == "connected");
    BOOST_REQUIRE(s.HasMember("Peers"));
    BOOST_REQUIRE(s["Peers"].IsArray());
    for (auto& p : s["Peers"].GetArray()) {
      BOOST_TEST(p.IsObject());
      BOOST_TEST(member_text(p, "ServerId") != a.id());
    }
    BOOST_TEST(has_peer(s, b.id()));
    BOOST_REQUIRE(s.HasMember("OutboxDepth"));
    BOOST_TEST(s["OutboxDepth"].IsInt64());
    BOOST_TEST(s["OutboxDepth"].GetInt64() >= 0);
    BOOST_REQUIRE(s.HasMember("LastSync"));
    BOOST_REQUIRE(s["LastSync"].IsString());
    BOOST_TEST(rapi::parse_time(s["LastSync"].GetString(),
                                rapi::time_zone{})
                 .has_value());
  }
}

BOOST_AUTO_TEST_SUITE_END()
