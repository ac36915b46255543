/// Resource limits (hardening issue, point 4): over a limit a client gets a
/// clear error or a closed connection, the metric counts it, and everyone
/// else keeps being served.

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;

namespace {

std::string config_with(const std::string& text) {
  auto dir = make_temp_dir("rapi-cfg");
  std::ofstream f(dir + "/c.json");
  f << text;
  return dir + "/c.json";
}

/// A raw TCP connection for slow or idle clients.
struct raw_conn {
  int fd = -1;
  explicit raw_conn(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a)
                  == 0);
  }
  ~raw_conn() { ::close(fd); }
  bool send(const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(s.size());
  }
  /// True once the server closed the connection (read returns 0/error).
  bool closed_by_peer() {
    char buf[4096];
    timeval tv{0, 10'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto n = ::recv(fd, buf, sizeof buf, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
};

double metric(http_client& admin, const std::string& prefix) {
  auto body = admin.get("/admin/metrics").body;
  auto pos = body.find("\n" + prefix);
  if (pos == std::string::npos)
    return -1;
  auto line_end = body.find('\n', pos + 1);
  auto line = body.substr(pos + 1, line_end - pos - 1);
  return std::stod(line.substr(line.rfind(' ') + 1));
}

} // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(slow_loris_is_cut_and_others_are_served) {
  demo_server s({"--config", config_with(R"({"limits": {"read_timeout_ms": 800}})")});
  raw_conn slow(s.srv.api_port());
  BOOST_REQUIRE(slow.send("GET /api/Agent?agentIdentifier=Id&value=2 HTTP/1.1\r\n"));
  // Meanwhile a normal client is served at once, many times over.
  for (int i = 0; i < 20; ++i)
    BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").status == 200);
  // The slow one, still trickling headers, is cut after the read timeout.
  bool cut = poll_until(
    [&] {
      slow.send("X-Slow: 1\r\n");
      return slow.closed_by_peer();
    },
    std::chrono::seconds(5));
  BOOST_TEST(cut);
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connection_is_closed) {
  demo_server s({"--config", config_with(R"({"limits": {"read_timeout_ms": 500}})")});
  raw_conn idle(s.srv.api_port());
  BOOST_TEST(poll_until([&] { return idle.closed_by_peer(); },
                        std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(connections_over_the_limit_get_503) {
  demo_server s({"--config", config_with(R"({"limits": {"max_connections": 3}})")});
  // s.api is not connected yet: three raw connections fill the listener.
  std::vector<std::unique_ptr<raw_conn>> held;
  for (int i = 0; i < 3; ++i)
    held.push_back(std::make_unique<raw_conn>(s.srv.api_port()));
  auto r = s.api.get("/api/Agent?agentIdentifier=Id&value=2");
  check_error(r, 503, "TooManyConnections");
  BOOST_TEST(metric(s.admin, "rapi_limit_rejections_total{limit=\"connections\"}")
             >= 1);
  // Once the others go, the listener serves again.
  held.clear();
  s.api.close();
  BOOST_TEST(poll_until(
    [&] {
      s.api.close();
      return s.api.get("/api/Agent?agentIdentifier=Id&value=2").status == 200;
    },
    std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(oversized_headers_close_the_connection) {
  demo_server s({"--config", config_with(R"({"limits": {"max_header_bytes": 1024}})")});
  auto out = s.api.raw("GET /api/Agent/GetAll HTTP/1.1\r\nHost: x\r\nX-Big: "
                       + std::string(4096, 'a') + "\r\n\r\n");
  BOOST_TEST(out.find("200 OK") == std::string::npos);
  out = s.api.raw("GET /api/Agent/GetAll?" + std::string(20000, 'q')
                  + " HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(out.find("200 OK") == std::string::npos);
  BOOST_TEST(s.api.get("/api/Agent/GetAll").status == 200);
}

BOOST_AUTO_TEST_CASE(body_and_metadata_limits_are_counted) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  s.api.post("/api/Record/StartForAgent",
             R"({"AgentIdentifier":"Id","Value":"2","x":")"
               + std::string(70'000, 'x') + "\"}");
  s.api.post("/api/Record/StartForAgent",
             R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"k":")"
               + std::string(5000, 'v') + "\"}}");
  BOOST_TEST(metric(s.admin, "rapi_limit_rejections_total{limit=\"body\"}") == 1);
  BOOST_TEST(metric(s.admin, "rapi_limit_rejections_total{limit=\"metadata\"}")
             == 1);
}

BOOST_AUTO_TEST_SUITE_END()
