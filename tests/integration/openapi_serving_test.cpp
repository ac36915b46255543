/// The OpenAPI document served by the real binary at GET /api/openapi.json:
/// JSON, OpenAPI 3, the vendor's paths, and exactly docs/openapi.yaml.

#include <fstream>
#include <iterator>
#include <string>

#include <boost/test/unit_test.hpp>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;

namespace {

std::string source_file(const std::string& relative) {
  std::ifstream f(std::string(RAPI_SOURCE_DIR) + "/" + relative,
                  std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f, "cannot read " << relative);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(openapi_serving)

BOOST_AUTO_TEST_CASE(document_is_served_as_json) {
  demo_server s;
  auto r = s.api.get("/api/openapi.json");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Content-Type").find("application/json")
             != std::string::npos);
  auto d = json(r);
  BOOST_REQUIRE(d->IsObject());
  BOOST_REQUIRE(d->HasMember("openapi"));
  BOOST_REQUIRE((*d)["openapi"].IsString());
  BOOST_TEST(std::string((*d)["openapi"].GetString()).rfind("3.", 0) == 0u);
  BOOST_REQUIRE(d->HasMember("paths"));
  const auto& paths = (*d)["paths"];
  BOOST_REQUIRE(paths.IsObject());
  for (auto path :
       {"/api/Agent", "/api/Agent/GetAll", "/api/Blackout/StartForAgent",
        "/api/Blackout/StopForAgent", "/api/Record/StartForAgent",
        "/api/Record/StopForAgent", "/api/Record/UpdateForAgent",
        "/api/Record/StartDuplicateForAgent",
        "/api/Record/StopDuplicateForAgent", "/api/ScreenRecord/StartForAgent",
        "/api/ScreenRecord/UpdateForAgent", "/api/ScreenRecord/StopForAgent",
        "/api/Cti/Events", "/api/Recordings", "/api/Recordings/{id}",
        "/api/openapi.json"})
    BOOST_TEST(paths.HasMember(path), path);
  // Served as it is written: docs/openapi.yaml is in YAML's JSON form.
  BOOST_TEST((r.body == source_file("docs/openapi.yaml")),
             "GET /api/openapi.json differs from docs/openapi.yaml");
}

BOOST_AUTO_TEST_CASE(document_path_follows_the_routing_rules) {
  demo_server s;
  // Case-insensitive, trailing slash ignored, HEAD like GET.
  auto r = s.api.get("/API/OpenAPI.JSON/");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r)->IsObject());
  auto head = s.api.request("HEAD", "/api/openapi.json");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
  check_error(s.api.post("/api/openapi.json", "{}"), 405, "MethodNotAllowed");
  // Only the API listener serves it.
  check_error(s.admin.get("/api/openapi.json"), 404, "RouteNotFound");
}

BOOST_AUTO_TEST_CASE(document_wants_the_api_key_when_keys_are_configured) {
  // As the document's security says: /api routes, this one included, want
  // a key once api.keys is set.
  const std::string key = "openapi-test-key-0123456789";
  server_options o;
  o.extra_args = {"--agents", demo_agents_file()};
  o.env = {{"RECORDING_API__API__KEYS", "[\"" + key + "\"]"}};
  server_process srv(o);
  auto api = srv.api();
  check_error(api.get("/api/openapi.json"), 401, "Unauthorized");
  auto r = api.request("GET", "/api/openapi.json", {}, {{"X-Api-Key", key}});
  BOOST_TEST(r.status == 200);
  r = api.request("GET", "/api/openapi.json", {},
                  {{"Authorization", "Bearer " + key}});
  BOOST_TEST(r.status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
