#pragma once

/// Shared helpers of the integration tests: a server with the demo agents,
/// JSON access, and the CTI calls the seed examples need.

#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace rapi::test {

inline std::string demo_agents_file() {
  return std::string(RAPI_SOURCE_DIR) + "/config/agents.json";
}

/// A parsed JSON response body; fails the test when it is not JSON.
inline std::shared_ptr<rapidjson::Document> json(const http_response& r) {
  auto d = std::make_shared<rapidjson::Document>();
  d->Parse(r.body.c_str(), r.body.size());
  BOOST_REQUIRE_MESSAGE(!d->HasParseError(),
                        "response is not JSON: " << r.body);
  return d;
}

/// Checks the contract's error shape: JSON with exactly Message and Code.
inline void check_error(const http_response& r, int status,
                        const std::string& code) {
  BOOST_TEST_CONTEXT("response " << r.status << " " << r.body) {
    BOOST_TEST(r.status == status);
    BOOST_TEST(r.header("Content-Type").find("application/json")
               != std::string::npos);
    auto d = json(r);
    BOOST_REQUIRE(d->IsObject());
    BOOST_TEST(d->MemberCount() == 2u);
    BOOST_REQUIRE(d->HasMember("Message"));
    BOOST_REQUIRE(d->HasMember("Code"));
    BOOST_TEST((*d)["Message"].IsString());
    BOOST_TEST(std::string((*d)["Message"].GetString()).size() > 0u);
    BOOST_TEST(std::string((*d)["Code"].GetString()) == code);
  }
}

/// A server on free ports with the demo agents and a fresh data folder.
struct demo_server {
  server_process srv;
  http_client api;
  http_client admin;

  explicit demo_server(std::vector<std::string> extra = {})
    : srv(make_options(std::move(extra))), api(srv.api()),
      admin(srv.admin()) {
  }

  static server_options make_options(std::vector<std::string> extra) {
    server_options o;
    o.extra_args = {"--agents", demo_agents_file()};
    for (auto& a : extra)
      o.extra_args.push_back(a);
    return o;
  }

  void reconnect() {
    api = srv.api();
    admin = srv.admin();
  }

  /// Starts a call for an agent through the CTI feed.
  void call_started(const std::string& kind, const std::string& value,
                    const std::string& call_id,
                    const std::string& extra = "") {
    auto r = api.post("/api/Cti/Events",
                      "{\"AgentIdentifier\":\"" + kind + "\",\"Value\":\""
                        + value + "\",\"Type\":\"CallStarted\",\"CallId\":\""
                        + call_id + "\"" + extra + "}");
    BOOST_REQUIRE_MESSAGE(r.status == 200, "CallStarted failed: " << r.body);
  }

  void cti(const std::string& kind, const std::string& value,
           const std::string& type, const std::string& call_id) {
    auto r = api.post("/api/Cti/Events",
                      "{\"AgentIdentifier\":\"" + kind + "\",\"Value\":\""
                        + value + "\",\"Type\":\"" + type + "\",\"CallId\":\""
                        + call_id + "\"}");
    BOOST_REQUIRE_MESSAGE(r.status == 200, type << " failed: " << r.body);
  }

  std::shared_ptr<rapidjson::Document> agent(const std::string& query) {
    auto r = api.get("/api/Agent?" + query);
    BOOST_REQUIRE_MESSAGE(r.status == 200, "GET agent failed: " << r.body);
    return json(r);
  }
};

inline std::string str(const rapidjson::Value& v) {
  if (v.IsNull())
    return "null";
  if (v.IsString())
    return v.GetString();
  if (v.IsInt64())
    return std::to_string(v.GetInt64());
  if (v.IsBool())
    return v.GetBool() ? "true" : "false";
  return "?";
}

} // namespace rapi::test
