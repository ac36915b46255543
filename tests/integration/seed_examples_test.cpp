/// Every example of the vendor document, sent verbatim (bodies, paths and
/// spellings exactly as printed there), after the calls they need were
/// started through the CTI feed.

#include <boost/test/unit_test.hpp>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;

BOOST_AUTO_TEST_SUITE(seed_examples)

BOOST_AUTO_TEST_CASE(agent_status_example) {
  demo_server s;
  auto r = s.api.get("/api/Agent?agentIdentifier=Id&value=2");
  BOOST_TEST(r.status == 200);
  auto d = json(r);
  BOOST_TEST((*d)["AgentId"].GetInt64() == 2);
  BOOST_TEST(str((*d)["AgentPhone"]) == "805003");
  BOOST_TEST((*d)["ActiveCall"].IsNull());
}

BOOST_AUTO_TEST_CASE(agent_list_example) {
  demo_server s;
  auto r = s.api.get("/api/Agent/GetAll");
  BOOST_TEST(r.status == 200);
  auto d = json(r);
  BOOST_REQUIRE(d->IsArray());
  BOOST_TEST(d->Size() == 4u);
  BOOST_TEST((*d)[0]["AgentId"].GetInt64() == 1);
}

BOOST_AUTO_TEST_CASE(blackout_examples) {
  demo_server s;
  auto r = s.api.post("/api/Blackout/StartForAgent",
                      R"({"AgentIdentifier":"Id", "Value":"1"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST((*s.agent("agentIdentifier=Id&value=1"))["Blackout"]["Active"]
               .GetBool());
  // The seed spells this path with a lower-case "blackout".
  r = s.api.post("/api/blackout/StopForAgent",
                 R"({"AgentIdentifier":"Id", "Value":"1"})");
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.post("/api/Blackout/StopForAgent",
                 R"({"AgentIdentifier":"Id", "Value":"1"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(!(*s.agent("agentIdentifier=Id&value=1"))["Blackout"]["Active"]
                .GetBool());
}

BOOST_AUTO_TEST_CASE(record_start_stop_examples) {
  demo_server s;
  s.call_started("Id", "2", "c-77");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id", "Value":"2"})");
  BOOST_TEST(r.status == 200, r.body);
  auto rec = json(r);
  BOOST_TEST(str((*rec)["Kind"]) == "Audio");
  BOOST_TEST(str((*rec)["RecordingState"]) == "Recording");
  // The alternative body of the same example: idempotent, same recording.
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Phone", "Value":"805003"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["RecordingIdentifier"])
             == str((*rec)["RecordingIdentifier"]));
  r = s.api.post("/api/Record/UpdateForAgent",
                 R"({"AgentIdentifier":"Phone", "Value":"805003", "CallMetadata":{"user2":"1234567890"}})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["Metadata"]["user2"]) == "1234567890");
  r = s.api.post("/api/Record/StopForAgent",
                 R"({"AgentIdentifier":"Id", "Value":"2"})");
  BOOST_TEST(r.status == 200, r.body);
  auto stopped = json(r);
  BOOST_TEST(str((*stopped)["RecordingState"]) == "Completed");
  BOOST_TEST(str((*stopped)["StopReason"]) == "Api");
  // Start again, stop with the other example body.
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Phone", "Value":"805003"})");
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.post("/api/Record/StopForAgent",
                 R"({"AgentIdentifier":"Phone", "Value":"805003"})");
  BOOST_TEST(r.status == 200, r.body);
}

BOOST_AUTO_TEST_CASE(duplicate_examples) {
  demo_server s;
  s.call_started("Phone", "5003", "c-5003");
  auto r = s.api.post("/api/Record/StartDuplicateForAgent",
                      R"({"AgentIdentifier":"Phone", "Value":"5003", "CallIdentifier":"111222"})");
  BOOST_TEST(r.status == 200, r.body);
  auto dup = json(r);
  BOOST_TEST(str((*dup)["Kind"]) == "Duplicate");
  BOOST_TEST((*dup)["IsDuplicate"].GetBool());
  BOOST_TEST(str((*dup)["CallIdentifier"]) == "111222");
  // Verbatim, including the document's typographic closing quote.
  r = s.api.post("/api/Record/StopDuplicateForAgent",
                 "{\"AgentIdentifier\":\"Phone\", \"Value\":\"5003\xE2\x80\x9D}");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["RecordingState"]) == "Completed");
}

BOOST_AUTO_TEST_CASE(screen_examples) {
  demo_server s;
  const char* body
    = R"({"AgentIdentifier":"Phone", "Value":"7000", "CallMetadata":{"user1":"API Initiated"}})";
  auto r = s.api.post("/api/ScreenRecord/StartForAgent", body);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["Kind"]) == "Screen");
  auto a = s.agent("agentIdentifier=Phone&value=7000");
  BOOST_TEST((*a)["DesktopOnlySessions"].Size() == 1u);
  r = s.api.post("/api/ScreenRecord/UpdateForAgent", body);
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.post("/api/ScreenRecord/StopForAgent", body);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["Metadata"]["user1"]) == "API Initiated");
  a = s.agent("agentIdentifier=Phone&value=7000");
  BOOST_TEST((*a)["DesktopOnlySessions"].Size() == 0u);
}

BOOST_AUTO_TEST_CASE(curl_default_form_content_type) {
  // `curl -d '{...}'` sends application/x-www-form-urlencoded.
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.request(
    "POST", "/api/Record/StartForAgent",
    R"({"AgentIdentifier":"Id", "Value":"2"})",
    {{"Content-Type", "application/x-www-form-urlencoded"}});
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.request("POST", "/api/Record/StopForAgent",
                    R"({"AgentIdentifier":"Id", "Value":"2"})",
                    {{"Content-Type", "text/plain"}});
  BOOST_TEST(r.status == 200, r.body);
}

BOOST_AUTO_TEST_SUITE_END()
