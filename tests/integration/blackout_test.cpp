/// Spec §6 through HTTP: time rules, scheduling that fires while the test
/// polls, the maxagentblackout limit, intervals on recordings, persistence.

#include <chrono>
#include <cstdio>

#include <boost/test/unit_test.hpp>

#include "common/time_util.hpp"
#include "tests/integration/fixture.hpp"

using namespace rapi::test;

namespace {

rapi::timestamp wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string iso(rapi::timestamp t) {
  return rapi::format_time(t);
}

std::string start_body(const std::string& extra) {
  return R"({"AgentIdentifier":"Id","Value":"2")" + extra + "}";
}

/// Parses a response time back to ms.
rapi::timestamp ms(const rapidjson::Value& v) {
  auto t = rapi::parse_time(v.GetString(), rapi::time_zone{});
  BOOST_REQUIRE(t.has_value());
  return *t;
}

std::string write_config(const std::string& dir, const std::string& text) {
  auto path = dir + "/config.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

} // namespace

BOOST_AUTO_TEST_SUITE(blackouts)

BOOST_AUTO_TEST_CASE(explicit_times_in_every_accepted_form) {
  demo_server s;
  // Past times (retroactive) in each format; each start/stop pair closes.
  for (auto [start, stop, expect_start] :
       {std::tuple{"2026-01-05T10:15:30Z", "2026-01-05T10:15:40Z",
                   "2026-01-05T10:15:30.000+00:00"},
        std::tuple{"2026-01-05T10:15:30.1234567-05:00",
                   "2026-01-05T10:16:00-05:00",
                   "2026-01-05T15:15:30.123+00:00"},
        std::tuple{"2026-01-05 10:15:30 -05:00", "2026-01-05 10:20:30 -0500",
                   "2026-01-05T15:15:30.000+00:00"},
        std::tuple{"1/5/2026 10:15:30 AM -05:00", "1/5/2026 10:20:30 AM -05:00",
                   "2026-01-05T15:15:30.000+00:00"},
        std::tuple{"1/5/2026 12:15:30 AM +00:00", "1/5/2026 12:20:30 AM +00:00",
                   "2026-01-05T00:15:30.000+00:00"},
        std::tuple{"2024-02-29T23:59:59+00:00", "2024-03-01T00:00:10Z",
                   "2024-02-29T23:59:59.000+00:00"}}) {
    BOOST_TEST_CONTEXT(start) {
      auto r = s.api.post("/api/Blackout/StartForAgent",
                          start_body(std::string(R"(,"BlackoutStartTime":")")
                                     + start + "\""));
      BOOST_TEST(r.status == 200, r.body);
      auto d = json(r);
      BOOST_TEST(str((*d)["StartTime"]) == expect_start);
      r = s.api.post("/api/Blackout/StopForAgent",
                     start_body(std::string(R"(,"BlackoutStopTime":")") + stop
                                + "\""));
      BOOST_TEST(r.status == 200, r.body);
      BOOST_TEST(!(*json(r))["Active"].GetBool());
    }
  }
}

BOOST_AUTO_TEST_CASE(time_offset_rules) {
  demo_server s;
  // TimeOffset alone shifts the receipt time (here into the past).
  auto before = wall_ms();
  auto r = s.api.post("/api/Blackout/StartForAgent",
                      start_body(R"(,"TimeOffset":-30)"));
  BOOST_TEST(r.status == 200, r.body);
  auto t = ms((*json(r))["StartTime"]);
  BOOST_TEST(t >= before - 30'000);
  BOOST_TEST(t <= wall_ms() - 30'000);
  s.api.post("/api/Blackout/StopForAgent", start_body(""));
  // Both present: the explicit time wins, TimeOffset is ignored.
  r = s.api.post("/api/Blackout/StartForAgent",
                 start_body(R"(,"BlackoutStartTime":"2026-02-01T00:00:00Z","TimeOffset":"3600")"));
  BOOST_TEST(str((*json(r))["StartTime"]) == "2026-02-01T00:00:00.000+00:00");
  s.api.post("/api/Blackout/StopForAgent", start_body(""));
  // Neither: receipt time.
  before = wall_ms();
  r = s.api.post("/api/Blackout/StartForAgent", start_body(""));
  t = ms((*json(r))["StartTime"]);
  BOOST_TEST(t >= before);
  BOOST_TEST(t <= wall_ms());
}

BOOST_AUTO_TEST_CASE(bad_times_are_400_and_change_nothing) {
  demo_server s;
  auto before = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  for (auto extra :
       {R"(,"BlackoutStartTime":"yesterday")",
        R"(,"BlackoutStartTime":"2026-13-01T00:00:00Z")",
        R"(,"BlackoutStartTime":"2023-02-29T00:00:00Z")",
        R"(,"BlackoutStartTime":"13/30/2026 10:15:30 AM")",
        R"(,"BlackoutStartTime":"11/30/2026 13:15:30 PM")",
        R"(,"BlackoutStartTime":"2026-11-30T10:15:30+15:00")",
        R"(,"BlackoutStartTime":1764497730)",
        R"(,"TimeOffset":"soon")", R"(,"TimeOffset":1.5)",
        R"(,"TimeOffset":172801)", R"(,"TimeOffset":-172801)",
        R"(,"TimeOffset":true)"}) {
    auto r = s.api.post("/api/Blackout/StartForAgent", start_body(extra));
    BOOST_TEST_CONTEXT(extra) {
      check_error(r, 400, "InvalidTime");
      auto msg = str((*json(r))["Message"]);
      BOOST_TEST((msg.find("BlackoutStartTime") != std::string::npos
                  || msg.find("TimeOffset") != std::string::npos),
                 msg);
    }
  }
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == before);
  // Stop before start.
  auto started = wall_ms() - 60'000;
  s.api.post("/api/Blackout/StartForAgent",
             start_body(R"(,"BlackoutStartTime":")" + iso(started) + "\""));
  auto mid = s.api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  BOOST_TEST(mid.find("\"Active\":true") != std::string::npos);
  check_error(s.api.post("/api/Blackout/StopForAgent",
                         start_body(R"(,"BlackoutStopTime":")"
                                    + iso(started - 1) + "\"")),
              400, "InvalidTime");
  BOOST_TEST(s.api.get("/api/Agent?agentIdentifier=Id&value=2").body == mid);
}

BOOST_AUTO_TEST_CASE(idempotent_start_and_stop) {
  demo_server s;
  auto r1 = s.api.post("/api/Blackout/StartForAgent", start_body(""));
  auto r2 = s.api.post("/api/Blackout/StartForAgent", start_body(""));
  BOOST_TEST(r2.status == 200);
  BOOST_TEST(r1.body == r2.body);
  auto s1 = s.api.post("/api/Blackout/StopForAgent", start_body(""));
  auto s2 = s.api.post("/api/Blackout/StopForAgent", start_body(""));
  BOOST_TEST(s2.status == 200);
  BOOST_TEST(s1.body == s2.body);
  check_error(s.api.post("/api/Blackout/StopForAgent",
                         R"({"AgentIdentifier":"Username","Value":"nobody"})"),
              404, "AgentNotFound");
}

BOOST_AUTO_TEST_CASE(intervals_on_every_recording_kind_across_calls) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  s.api.post("/api/Record/StartForAgent", start_body(""));
  s.api.post("/api/Record/StartDuplicateForAgent", start_body(""));
  s.api.post("/api/ScreenRecord/StartForAgent", start_body(""));
  auto r = s.api.post("/api/Blackout/StartForAgent", start_body(""));
  auto bstart = str((*json(r))["StartTime"]);
  auto a = s.agent("agentIdentifier=Id&value=2");
  for (auto& rec : (*a)["ActiveCall"]["Recordings"].GetArray()) {
    BOOST_TEST_CONTEXT(str(rec["Kind"])) {
      BOOST_REQUIRE(rec["Blackouts"].Size() == 1u);
      BOOST_TEST(str(rec["Blackouts"][0]["StartTime"]) == bstart);
      BOOST_TEST(rec["Blackouts"][0]["StopTime"].IsNull());
    }
  }
  // A transfer: the call ends, a new one starts; the blackout goes on and
  // covers the new call's recording from its start.
  s.cti("Id", "2", "CallEnded", "c-1");
  s.call_started("Id", "2", "c-2");
  r = s.api.post("/api/Record/StartForAgent", start_body(""));
  auto rec = json(r);
  BOOST_REQUIRE((*rec)["Blackouts"].Size() == 1u);
  BOOST_TEST(str((*rec)["Blackouts"][0]["StartTime"])
             == str((*rec)["StartTime"]));
  // Let a millisecond pass so the interval is not empty (an interval that
  // would end where it starts is dropped).
  auto rec_start = ms((*rec)["StartTime"]);
  BOOST_REQUIRE(poll_until([&] { return wall_ms() > rec_start + 1; }));
  r = s.api.post("/api/Blackout/StopForAgent", start_body(""));
  auto bstop = str((*json(r))["StopTime"]);
  r = s.api.post("/api/Record/StopForAgent", start_body(""));
  auto stopped = json(r);
  BOOST_REQUIRE((*stopped)["Blackouts"].Size() == 1u);
  BOOST_TEST(str((*stopped)["Blackouts"][0]["StopTime"]) == bstop);
}

BOOST_AUTO_TEST_CASE(retroactive_start_marks_running_recordings) {
  demo_server s;
  s.call_started("Id", "2", "c-1");
  auto r = s.api.post("/api/Record/StartForAgent", start_body(""));
  auto rec_start = str((*json(r))["StartTime"]);
  // A start a minute ago: the interval is clipped to the recording.
  r = s.api.post("/api/Blackout/StartForAgent",
                 start_body(R"(,"TimeOffset":-60)"));
  BOOST_TEST(r.status == 200);
  auto a = s.agent("agentIdentifier=Id&value=2");
  auto& b = (*a)["ActiveCall"]["Recordings"][0]["Blackouts"];
  BOOST_REQUIRE(b.Size() == 1u);
  BOOST_TEST(str(b[0]["StartTime"]) == rec_start);
}

BOOST_AUTO_TEST_CASE(scheduled_start_and_stop_fire_while_polling) {
  demo_server s;
  auto now = wall_ms();
  auto start_at = now + 1'500;
  auto stop_at = now + 3'000;
  auto r = s.api.post("/api/Blackout/StartForAgent",
                      start_body(R"(,"BlackoutStartTime":")" + iso(start_at)
                                 + "\""));
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(!(*json(r))["Active"].GetBool());
  BOOST_TEST(str((*json(r))["ScheduledStartTime"]) == iso(start_at));
  r = s.api.post("/api/Blackout/StopForAgent",
                 start_body(R"(,"BlackoutStopTime":")" + iso(stop_at) + "\""));
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(str((*json(r))["ScheduledStopTime"]) == iso(stop_at));
  auto active = [&] {
    return (*s.agent("agentIdentifier=Id&value=2"))["Blackout"]["Active"]
      .GetBool();
  };
  BOOST_TEST(poll_until(active, std::chrono::seconds(10)));
  auto a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST(str((*a)["Blackout"]["StartTime"]) == iso(start_at));
  BOOST_TEST(poll_until([&] { return !active(); }, std::chrono::seconds(10)));
  a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST(str((*a)["Blackout"]["StopTime"]) == iso(stop_at));
}

BOOST_AUTO_TEST_CASE(limit_ends_blackout_by_itself) {
  auto dir = make_temp_dir("rapi-cfg");
  auto cfg = write_config(dir, R"({"blackout": {"maxagentblackout": 1}})");
  demo_server s({"--config", cfg});
  s.call_started("Id", "2", "c-1");
  s.api.post("/api/Record/StartForAgent", start_body(""));
  auto r = s.api.post("/api/Blackout/StartForAgent", start_body(""));
  auto started = ms((*json(r))["StartTime"]);
  BOOST_TEST(poll_until(
    [&] {
      return !(*s.agent("agentIdentifier=Id&value=2"))["Blackout"]["Active"]
                .GetBool();
    },
    std::chrono::seconds(10)));
  auto a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST(ms((*a)["Blackout"]["StopTime"]) == started + 1'000);
  auto& iv = (*a)["ActiveCall"]["Recordings"][0]["Blackouts"][0];
  BOOST_TEST(ms(iv["StopTime"]) == started + 1'000);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(schedule_survives_restart_and_fires_with_original_time) {
  demo_server s;
  auto start_at = wall_ms() + 1'000;
  s.api.post("/api/Blackout/StartForAgent",
             start_body(R"(,"BlackoutStartTime":")" + iso(start_at) + "\""));
  BOOST_TEST(s.srv.stop(SIGTERM) == 0);
  // Down while the schedule comes due.
  BOOST_REQUIRE(poll_until([&] { return wall_ms() > start_at + 200; },
                           std::chrono::seconds(5)));
  s.srv.start();
  s.reconnect();
  auto a = s.agent("agentIdentifier=Id&value=2");
  BOOST_TEST((*a)["Blackout"]["Active"].GetBool());
  BOOST_TEST(str((*a)["Blackout"]["StartTime"]) == iso(start_at));
}

BOOST_AUTO_TEST_SUITE_END()
