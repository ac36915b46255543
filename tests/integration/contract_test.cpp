/// The compatibility rules of spec §2 and the agent, call and recording
/// rules of §3-5, through real HTTP against the real binary.

#include <boost/test/unit_test.hpp>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;

BOOST_AUTO_TEST_SUITE(compatibility)

BOOST_AUTO_TEST_CASE(paths_and_names_are_case_insensitive) {
  demo_server s;
  for (auto target :
       {"/api/Agent?agentIdentifier=Id&value=2",
        "/API/AGENT?AGENTIDENTIFIER=ID&VALUE=2",
        "/api/agent/?agentidentifier=id&value=2",
        "/api/Agent?AgentIdentifier=AgentID&Value=2",
        "/api/Agent?agentIdentifier=agentid&value=02",
        "/api/Agent?agentIdentifier=Phone&value=805003",
        "/api/Agent?agentIdentifier=AgentPhone&value=805003",
        "/api/Agent?agentIdentifier=CrmUsername&value=JDOE@CRM",
        "/api/Agent?agentIdentifier=SystemUsername&value=corp%5CJDoe",
        "/api/Agent?agentIdentifier=Username&value=JDoe"}) {
    auto r = s.api.get(target);
    BOOST_TEST_CONTEXT(target) {
      BOOST_TEST(r.status == 200, r.body);
      if (r.status == 200)
        BOOST_TEST((*json(r))["AgentId"].GetInt64() == 2);
    }
  }
  auto r = s.api.post("/API/BLACKOUT/STARTFORAGENT/",
                      R"({"AGENTIDENTIFIER":"id","VALUE":2})");
  BOOST_TEST(r.status == 200, r.body);
}

BOOST_AUTO_TEST_CASE(phone_matches_exactly) {
  demo_server s;
  check_error(s.api.get("/api/Agent?agentIdentifier=Phone&value=0805003"),
              404, "AgentNotFound");
  check_error(s.api.get("/api/Agent?agentIdentifier=Id&value=abc"), 404,
              "AgentNotFound");
}

BOOST_AUTO_TEST_CASE(value_string_or_number) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":2})");
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.post("/api/Record/StopForAgent",
                 R"({"AgentIdentifier":"Phone","Value":805003})");
  BOOST_TEST(r.status == 200, r.body);
  // "Id matches numerically": a whole number with a fraction or an exponent
  // (what a client serialising a float sends) names the same agent.
  for (const char* v : {"2.0", "2e0", "\"2.0\"", "0.2E1"}) {
    r = s.api.post("/api/Blackout/StartForAgent",
                   std::string(R"({"AgentIdentifier":"Id","Value":)") + v
                     + "}");
    BOOST_TEST(r.status == 200, v << ": " << r.body);
    r = s.api.post("/api/Blackout/StopForAgent",
                   std::string(R"({"AgentIdentifier":"Id","Value":)") + v
                     + "}");
    BOOST_TEST(r.status == 200, v << ": " << r.body);
  }
  BOOST_TEST(
    str((*s.agent("agentIdentifier=Id&value=2.0"))["Blackout"]["StopTime"])
    != "");
  // A fraction names no agent.
  check_error(s.api.post("/api/Blackout/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":2.5})"),
              404, "AgentNotFound");
}

BOOST_AUTO_TEST_CASE(query_string_fills_what_body_lacks) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent?AgentIdentifier=Id&Value=2",
                      "");
  BOOST_TEST(r.status == 200, r.body);
  r = s.api.post("/api/Record/StopForAgent?Value=2", R"({"AgentIdentifier":"Id"})");
  BOOST_TEST(r.status == 200, r.body);
  // The body wins over the query.
  r = s.api.post("/api/Blackout/StartForAgent?AgentIdentifier=Id&Value=999",
                 R"({"AgentIdentifier":"Id","Value":"1"})");
  BOOST_TEST(r.status == 200, r.body);
}

BOOST_AUTO_TEST_CASE(missing_parameters_are_404) {
  demo_server s;
  check_error(s.api.post("/api/Record/StartForAgent", R"({"Value":"2"})"), 404,
              "MissingParameter");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id"})"),
              404, "MissingParameter");
  check_error(s.api.post("/api/Record/StartForAgent", ""), 404,
              "MissingParameter");
  check_error(s.api.get("/api/Agent"), 404, "MissingParameter");
}

BOOST_AUTO_TEST_CASE(unknown_agent_is_404_naming_it) {
  demo_server s;
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Phone","Value":"9999"})");
  check_error(r, 404, "AgentNotFound");
  BOOST_TEST(str((*json(r))["Message"])
             == "AgentIdentifier 'Phone' with Value '9999' matched no agent");
  check_error(s.api.post("/api/Blackout/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":"77"})"),
              404, "AgentNotFound");
  check_error(s.api.post("/api/Blackout/StopForAgent",
                         R"({"AgentIdentifier":"Id","Value":"77"})"),
              404, "AgentNotFound");
}

BOOST_AUTO_TEST_CASE(bad_input_is_400_and_changes_nothing) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto before = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  check_error(s.api.post("/api/Record/StartForAgent", "{\"AgentIdentifier\":"),
              400, "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent", "[1,2"), 400,
              "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Email","Value":"x"})"),
              400, "InvalidAgentIdentifier");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":true})"),
              400, "InvalidParameter");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":{"a":1}})"),
              400, "InvalidParameter");
  check_error(s.api.post("/api/Record/StartForAgent",
                         "{\"AgentIdentifier\":\"Id\",\"Value\":\"\xff\xfe\"}"),
              400, "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2","value":"3"})"),
              400, "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":NaN})"),
              400, "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent",
                         std::string(60000, '[')),
              400, "InvalidJson");
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":"x"})"),
              400, "InvalidMetadata");
  // Valid JSON of the wrong kind is a body of the wrong type, not a body
  // without parameters.
  for (const char* body : {R"([{"AgentIdentifier":"Id","Value":"2"}])",
                           R"("AgentIdentifier")", "12", "true"}) {
    auto r = s.api.post("/api/Record/StartForAgent", body);
    check_error(r, 400, "InvalidJson");
    BOOST_TEST(str((*json(r))["Message"]).find("must be a JSON object")
               != std::string::npos, r.body);
  }
  check_error(s.api.post("/api/Cti/Events", R"("CallStarted")"), 400,
              "InvalidJson");
  // ... whatever the Content-Type: curl's default form type reads a body
  // as a form only when it is not JSON as sent.
  check_error(s.api.request("POST", "/api/Record/StartForAgent",
                            R"("AgentIdentifier")",
                            {{"Content-Type",
                              "application/x-www-form-urlencoded"}}),
              400, "InvalidJson");
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == before);
}

BOOST_AUTO_TEST_CASE(oversize_body_is_413) {
  demo_server s;
  std::string big = R"({"AgentIdentifier":"Id","Value":"2","x":")"
                    + std::string(70 * 1024, 'a') + "\"}";
  check_error(s.api.post("/api/Record/StartForAgent", big), 413,
              "PayloadTooLarge");
  // The server keeps serving.
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").status == 200);
}

BOOST_AUTO_TEST_CASE(unknown_route_and_wrong_method) {
  demo_server s;
  check_error(s.api.get("/api/Nope"), 404, "RouteNotFound");
  check_error(s.api.get("/"), 404, "RouteNotFound");
  auto r = s.api.get("/api/Record/StartForAgent");
  check_error(r, 405, "MethodNotAllowed");
  BOOST_TEST(r.header("Allow") == "POST");
  check_error(s.api.del("/api/Agent/GetAll"), 405, "MethodNotAllowed");
  // HEAD: GET's status and headers, Content-Length included, no body.
  for (const char* path : {"/api/Agent/GetAll",
                           "/api/Agent?agentIdentifier=Id&value=2",
                           "/api/Agent?agentIdentifier=Id&value=9"}) {
    auto get = s.api.get(path);
    auto head = s.api.request("HEAD", path);
    BOOST_TEST(head.status == get.status, path);
    BOOST_TEST(head.body.empty(), path);
    BOOST_TEST(head.header("Content-Length")
                 == std::to_string(get.body.size()), path);
    BOOST_TEST(head.header("Content-Type") == get.header("Content-Type"));
  }
  // HTTP/1.1 needs exactly one Host (RFC 9112, 3.2); the client below
  // sends HTTP/1.1 and leaves Host out when told to.
  check_error(s.api.request("GET", "/api/Agent/GetAll", {}, {{"Host", ""}}),
              400, "BadRequest");
  check_error(s.api.request("GET", "/api/Agent/GetAll", {},
                            {{"Host", "a"}, {"host", "b"}}),
              400, "BadRequest");
  // Provisioning lives on the admin listener only.
  check_error(s.api.put("/admin/agents/9", "{}"), 404, "RouteNotFound");
}

BOOST_AUTO_TEST_CASE(times_are_iso_with_milliseconds_utc) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  auto t = str((*json(r))["StartTime"]);
  BOOST_TEST(t.size() == 29u, t);
  BOOST_TEST(t.substr(10, 1) == "T");
  BOOST_TEST(t.substr(19, 1) == ".");
  BOOST_TEST(t.substr(23) == "+00:00");
}

BOOST_AUTO_TEST_SUITE_END()

// -- §3 agents ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(agents)

BOOST_AUTO_TEST_CASE(agent_fields_in_vendor_order) {
  demo_server s;
  auto r = s.api.get("/api/Agent?agentIdentifier=Id&value=2");
  auto d = json(r);
  std::vector<std::string> names;
  for (auto& m : d->GetObject())
    names.emplace_back(m.name.GetString());
  std::vector<std::string> expected{
    "AgentId",      "BusinessUnit",  "AgentPhone", "SystemUsername",
    "CrmUsername",  "ActiveCall",    "InactiveCalls", "Username",
    "DeviceId",     "DeviceAlias",   "DesktopOnlySessions", "Blackout"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  BOOST_TEST((*d)["BusinessUnit"].GetInt64() == 4593);
  BOOST_TEST(str((*d)["SystemUsername"]) == "CORP\\jdoe");
  BOOST_TEST((*d)["DeviceId"].GetInt64() == 17);
  BOOST_TEST((*d)["InactiveCalls"].IsArray());
}

BOOST_AUTO_TEST_CASE(get_all_empty_is_empty_array) {
  server_process srv;
  auto api = srv.api();
  auto r = api.get("/api/Agent/GetAll");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "[]");
}

BOOST_AUTO_TEST_CASE(provisioning_create_update_delete) {
  demo_server s;
  auto r = s.admin.put("/admin/agents/10",
                       R"({"BusinessUnit":1,"AgentPhone":"1010","Username":"ten"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST((*json(r))["AgentId"].GetInt64() == 10);
  auto a = s.agent("agentIdentifier=Username&value=TEN");
  BOOST_TEST(str((*a)["AgentPhone"]) == "1010");
  // Update: the old phone stops matching, the new one matches.
  r = s.admin.put("/admin/agents/10", R"({"AgentPhone":"2020","Username":"ten"})");
  BOOST_TEST(r.status == 200, r.body);
  check_error(s.api.get("/api/Agent?agentIdentifier=Phone&value=1010"), 404,
              "AgentNotFound");
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Phone&value=2020").status
             == 200);
  // Uniqueness: 409 naming the identifier and the owner.
  r = s.admin.put("/admin/agents/11", R"({"AgentPhone":"805003"})");
  check_error(r, 409, "Conflict");
  BOOST_TEST(str((*json(r))["Message"]).find("805003") != std::string::npos);
  r = s.admin.put("/admin/agents/11", R"({"CrmUsername":"JDOE@crm"})");
  check_error(r, 409, "Conflict");
  check_error(s.api.get("/api/Agent?agentIdentifier=Id&value=11"), 404,
              "AgentNotFound");
  // Delete stops recordings with StopReason AgentRemoved.
  s.call_started("Id", "10", "c-10");
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Id","Value":"10"})");
  auto rec_id = str((*json(r))["RecordingIdentifier"]);
  r = s.admin.del("/admin/agents/10");
  BOOST_TEST(r.status == 200, r.body);
  check_error(s.api.get("/api/Agent?agentIdentifier=Id&value=10"), 404,
              "AgentNotFound");
  r = s.api.get("/api/Recordings/" + rec_id);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["StopReason"]) == "AgentRemoved");
  check_error(s.admin.del("/admin/agents/10"), 404, "AgentNotFound");
  // The phone is free again.
  BOOST_TEST(s.admin.put("/admin/agents/12", R"({"AgentPhone":"2020"})").status
             == 200);
}

BOOST_AUTO_TEST_CASE(bulk_provisioning) {
  demo_server s;
  auto r = s.admin.put("/admin/agents",
                       R"([{"AgentID":20,"AgentPhone":"2000"},
                           {"AgentID":21,"AgentPhone":"2100","Username":"u21"}])");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Phone&value=2100").status
             == 200);
  // Swapping phones within one batch is allowed.
  r = s.admin.put("/admin/agents",
                  R"([{"AgentID":20,"AgentPhone":"2100"},
                      {"AgentID":21,"AgentPhone":"2000"}])");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST((*s.agent("agentIdentifier=Phone&value=2100"))["AgentId"]
               .GetInt64()
             == 20);
  // A conflicting batch changes nothing at all.
  r = s.admin.put("/admin/agents",
                  R"([{"AgentID":22,"AgentPhone":"2200"},
                      {"AgentID":23,"AgentPhone":"7000"}])");
  check_error(r, 409, "Conflict");
  check_error(s.api.get("/api/Agent?agentIdentifier=Id&value=22"), 404,
              "AgentNotFound");
  check_error(s.admin.put("/admin/agents", R"({"AgentID":1})"), 400,
              "InvalidParameter");
  check_error(s.admin.put("/admin/agents", R"([{"AgentID":0}])"), 400,
              "InvalidParameter");
  check_error(s.admin.put("/admin/agents", R"([{"AgentID":5,"Shoe":1}])"), 400,
              "InvalidParameter");
  check_error(s.admin.put("/admin/agents/x", R"({})"), 400, "InvalidParameter");
  check_error(s.admin.put("/admin/agents/5", R"({"AgentID":6})"), 400,
              "InvalidParameter");
}

BOOST_AUTO_TEST_CASE(health) {
  demo_server s;
  auto r = s.admin.get("/admin/health");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(str((*json(r))["Status"]) == "Ok");
  BOOST_TEST((*json(r))["Agents"].GetInt64() == 4);
}

BOOST_AUTO_TEST_SUITE_END()

// -- §4 calls ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(calls)

BOOST_AUTO_TEST_CASE(cti_lifecycle) {
  demo_server s;
  s.call_started("Id", "2", "c-1",
                 R"(,"Ani":"5551234","Dnis":"8000","Direction":"Inbound","CallIdentifier":"crm-1")");
  auto a = s.agent("agentIdentifier=Id&value=2");
  auto& ac = (*a)["ActiveCall"];
  BOOST_TEST(str(ac["CallInstance"]) == "c-1");
  BOOST_TEST(str(ac["CallIdentifier"]) == "crm-1");
  BOOST_TEST(str(ac["CallState"]) == "OnCall");
  BOOST_TEST(str(ac["Metadata"]["ani"]) == "5551234");
  BOOST_TEST(str(ac["Metadata"]["dnis"]) == "8000");
  BOOST_TEST(str(ac["Metadata"]["calldirection"]) == "I");
  BOOST_TEST(ac["Metadata"].HasMember("starttime"));
  // A second call makes the first one held.
  s.call_started("Id", "2", "c-2");
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST(str((*a)["ActiveCall"]["CallInstance"]) == "c-2");
  BOOST_TEST((*a)["InactiveCalls"].Size() == 1u);
  BOOST_TEST(str((*a)["InactiveCalls"][0]["CallState"]) == "OnHold");
  s.cti("Id", "2", "CallParked", "c-2");
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["ActiveCall"].IsNull());
  BOOST_TEST((*a)["InactiveCalls"].Size() == 2u);
  s.cti("Id", "2", "CallRetrieved", "c-1");
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST(str((*a)["ActiveCall"]["CallInstance"]) == "c-1");
  s.cti("Id", "2", "CallHeld", "c-1");
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["ActiveCall"].IsNull());
  s.cti("Id", "2", "CallEnded", "c-1");
  s.cti("Id", "2", "CallEnded", "c-2");
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["InactiveCalls"].Size() == 0u);
  check_error(s.api.post("/api/Cti/Events",
                         R"({"AgentIdentifier":"Id","Value":"2","Type":"CallEnded","CallId":"c-9"})"),
              404, "CallNotFound");
  check_error(s.api.post("/api/Cti/Events",
                         R"({"AgentIdentifier":"Id","Value":"2","Type":"Dance","CallId":"c-9"})"),
              400, "InvalidParameter");
  check_error(s.api.post("/api/Cti/Events",
                         R"({"AgentIdentifier":"Id","Value":"2","Type":"CallStarted"})"),
              404, "MissingParameter");
}

BOOST_AUTO_TEST_CASE(cti_array_applied_in_order) {
  demo_server s;
  auto r = s.api.post("/api/Cti/Events", R"([
    {"AgentIdentifier":"Id","Value":"1","Type":"CallStarted","CallId":"a"},
    {"AgentIdentifier":"Id","Value":"1","Type":"CallHeld","CallId":"a"},
    {"AgentIdentifier":"Phone","Value":"805003","Type":"CallStarted","CallId":"b"}])");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(json(r)->IsArray());
  auto a = s.agent("agentIdentifier=Id&value=1");
  BOOST_TEST(str((*a)["InactiveCalls"][0]["CallState"]) == "OnHold");
  // A bad event anywhere in the array is caught before anything is applied.
  r = s.api.post("/api/Cti/Events", R"([
    {"AgentIdentifier":"Id","Value":"3","Type":"CallStarted","CallId":"x"},
    {"AgentIdentifier":"Id","Value":"3","Type":"Nope","CallId":"x"}])");
  check_error(r, 400, "InvalidParameter");
  BOOST_TEST(str((*json(r))["Message"]).find("event 1") != std::string::npos);
  // ... and the message does not claim otherwise.
  BOOST_TEST(str((*json(r))["Message"]).find("applied") == std::string::npos,
             r.body);
  BOOST_TEST((*s.agent("agentIdentifier=Id&value=3"))["ActiveCall"].IsNull());
}

BOOST_AUTO_TEST_CASE(call_ended_stops_recordings) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  auto id = str((*json(r))["RecordingIdentifier"]);
  s.api.post("/api/ScreenRecord/StartForAgent",
             R"({"AgentIdentifier":"Id","Value":"2"})");
  s.cti("Id", "2", "CallEnded", "c-1");
  r = s.api.get("/api/Recordings/" + id);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["RecordingState"]) == "Completed");
  BOOST_TEST(str((*json(r))["StopReason"]) == "CallEnded");
  check_error(s.api.post("/api/ScreenRecord/StopForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
}

BOOST_AUTO_TEST_SUITE_END()

// -- §5 recordings -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(recordings)

BOOST_AUTO_TEST_CASE(not_in_call_and_not_recording) {
  demo_server s;
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2"})");
  check_error(r, 404, "NotInCall");
  s.call_started("Id", "2", "c-1");
  check_error(s.api.post("/api/Record/StopForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
  check_error(s.api.post("/api/Record/UpdateForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"a":"b"}})"),
              404, "NotRecording");
  check_error(s.api.post("/api/Record/StopDuplicateForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
  check_error(s.api.post("/api/ScreenRecord/UpdateForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
  check_error(s.api.post("/api/ScreenRecord/StopForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
  check_error(s.api.post("/api/Record/StartDuplicateForAgent",
                         R"({"AgentIdentifier":"Id","Value":"1"})"),
              404, "NotInCall");
}

BOOST_AUTO_TEST_CASE(start_is_idempotent_and_merges_metadata) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r1 = s.api.post("/api/Record/StartForAgent",
                       R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user1":"a"}})");
  auto r2 = s.api.post("/api/Record/StartForAgent",
                       R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user2":7}})");
  BOOST_TEST(r2.status == 200);
  auto a = json(r1), b = json(r2);
  BOOST_TEST(str((*a)["RecordingIdentifier"]) == str((*b)["RecordingIdentifier"]));
  BOOST_TEST(str((*b)["Metadata"]["user1"]) == "a");
  BOOST_TEST(str((*b)["Metadata"]["user2"]) == "7");
  auto agent = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*agent)["ActiveCall"]["Recordings"].Size() == 1u);
  BOOST_TEST(str((*agent)["ActiveCall"]["Metadata"]["user2"]) == "7");
}

BOOST_AUTO_TEST_CASE(call_identifier_labels_and_targets) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"crm-9"})");
  BOOST_TEST(str((*json(r))["CallIdentifier"]) == "crm-9");
  // A second call; the first is held but still reachable by its label.
  s.call_started("Id", "2", "c-2");
  r = s.api.post("/api/Record/StartDuplicateForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"crm-9"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["CallInstance"]) == "c-1");
  r = s.api.post("/api/Record/StopForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"crm-9","CallMetadata":{"done":"yes"}})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["Metadata"]["done"]) == "yes");
  // By CallId too.
  r = s.api.post("/api/Record/StopDuplicateForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"c-1"})");
  BOOST_TEST(r.status == 200, r.body);
}

BOOST_AUTO_TEST_CASE(screen_with_and_without_call) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/ScreenRecord/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user1":"x"}})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["CallInstance"]) == "c-1");
  auto a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["ActiveCall"]["Recordings"].Size() == 1u);
  BOOST_TEST((*a)["DesktopOnlySessions"].Size() == 0u);
  r = s.api.post("/api/ScreenRecord/StartForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_TEST(r.status == 200);
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["ActiveCall"]["Recordings"].Size() == 1u);
}

BOOST_AUTO_TEST_CASE(metadata_limits_name_the_key) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  std::string many = "{";
  for (int i = 0; i < 65; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}";
  check_error(s.api.post("/api/Record/StartForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":)"
                           + many + "}"),
              400, "InvalidMetadata");
  auto r = s.api.post("/api/Record/StartForAgent",
                      R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{")"
                        + std::string(65, 'k') + R"(":"v"}})");
  check_error(r, 400, "InvalidMetadata");
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user3":")"
                   + std::string(4097, 'v') + R"("}})");
  check_error(r, 400, "InvalidMetadata");
  BOOST_TEST(str((*json(r))["Message"]).find("user3") != std::string::npos);
  r = s.api.post("/api/Record/StartForAgent",
                 R"({"AgentIdentifier":"Id","Value":"2","CallMetadata":{"user4":{"x":1}}})");
  check_error(r, 400, "InvalidMetadata");
  BOOST_TEST(str((*json(r))["Message"]).find("user4") != std::string::npos);
  // Nothing was started by the rejected requests.
  check_error(s.api.post("/api/Record/StopForAgent",
                         R"({"AgentIdentifier":"Id","Value":"2"})"),
              404, "NotRecording");
}

BOOST_AUTO_TEST_CASE(recordings_query_newest_first_with_cursor) {
  demo_server s;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    s.call_started("Id", "2", "c-" + std::to_string(i));
    auto r = s.api.post("/api/Record/StartForAgent",
                        R"({"AgentIdentifier":"Id","Value":"2","CallIdentifier":"q)"
                          + std::to_string(i) + "\"}");
    ids.push_back(str((*json(r))["RecordingIdentifier"]));
    s.cti("Id", "2", "CallEnded", "c-" + std::to_string(i));
  }
  s.call_started("Id", "1", "other");
  s.api.post("/api/Record/StartForAgent", R"({"AgentIdentifier":"Id","Value":"1"})");

  auto r = s.api.get("/api/Recordings?agentId=2&limit=2");
  BOOST_TEST(r.status == 200, r.body);
  auto d = json(r);
  BOOST_TEST((*d)["Recordings"].Size() == 2u);
  BOOST_TEST(str((*d)["Recordings"][0]["RecordingIdentifier"]) == ids[4]);
  BOOST_TEST(str((*d)["Recordings"][1]["RecordingIdentifier"]) == ids[3]);
  std::vector<std::string> seen;
  std::string cursor = str((*d)["NextCursor"]);
  for (auto& x : (*d)["Recordings"].GetArray())
    seen.push_back(str(x["RecordingIdentifier"]));
  while (cursor != "null") {
    r = s.api.get("/api/Recordings?AGENTID=2&limit=2&cursor=" + cursor);
    BOOST_REQUIRE(r.status == 200);
    d = json(r);
    for (auto& x : (*d)["Recordings"].GetArray())
      seen.push_back(str(x["RecordingIdentifier"]));
    cursor = str((*d)["NextCursor"]);
  }
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  BOOST_TEST(seen == expected, boost::test_tools::per_element());

  r = s.api.get("/api/Recordings?callIdentifier=q2");
  d = json(r);
  BOOST_TEST((*d)["Recordings"].Size() == 1u);
  BOOST_TEST(str((*d)["Recordings"][0]["RecordingIdentifier"]) == ids[2]);
  r = s.api.get("/api/Recordings");
  BOOST_TEST((*json(r))["Recordings"].Size() == 6u);
  r = s.api.get("/api/Recordings?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z");
  BOOST_TEST((*json(r))["Recordings"].Size() == 0u);
  check_error(s.api.get("/api/Recordings?limit=0"), 400, "InvalidParameter");
  check_error(s.api.get("/api/Recordings?agentId=x"), 400, "InvalidParameter");
  check_error(s.api.get("/api/Recordings?cursor=zz"), 400, "InvalidParameter");
  check_error(s.api.get("/api/Recordings?from=yesterday"), 400, "InvalidTime");
  check_error(s.api.get("/api/Recordings/does-not-exist"), 404,
              "RecordingNotFound");
  r = s.api.get("/api/Recordings/" + ids[0]);
  BOOST_TEST(r.status == 200);
  d = json(r);
  for (auto field : {"RecordingIdentifier", "Kind", "IsDuplicate",
                     "RecordingState", "AgentId", "CallInstance",
                     "CallIdentifier", "StartTime", "StopTime", "StopReason",
                     "Metadata", "Blackouts", "ServerId"})
    BOOST_TEST(d->HasMember(field), field);
}

BOOST_AUTO_TEST_SUITE_END()
