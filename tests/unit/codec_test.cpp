#include <boost/test/unit_test.hpp>

#include "actors/agent_store.hpp"
#include "actors/codec.hpp"
#include "actors/command.hpp"
#include "actors/model.hpp"
#include "common/json_value.hpp"
#include "common/time_util.hpp"
#include "storage/keys.hpp"
#include "storage/memory_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Unit tests of the JSON codec (spec section 3's agent object, section 2's
// time format) and of the persistence mapping onto a key-value store.

namespace {

using rapi::agent_live;
using rapi::agent_profile;
using rapi::call;
using rapi::call_state;
using rapi::interval;
using rapi::recording;
using rapi::recording_kind;
using rapi::recording_state;
using rapi::stop_reason;
using rapi::timestamp;

/// 2026-11-30T10:00:00Z in milliseconds since the epoch.
constexpr timestamp base = 1'796'032'800'000;
/// 2026-11-30T10:15:30.123Z, the contract's sample time.
constexpr timestamp sample = 1'796'033'730'123;
constexpr timestamp sec = 1000;

rapi::json_value parse(const std::string& text) {
  rapi::json_value v;
  rapi::json_parse_error err;
  BOOST_REQUIRE_MESSAGE(rapi::parse_json(text, v, err),
                        "not JSON: " << err.message << " in " << text);
  return v;
}

std::vector<std::string> member_names(const rapi::json_value& v) {
  std::vector<std::string> out;
  for (auto& [k, x] : v.members)
    out.push_back(k);
  return out;
}

agent_profile sample_profile() {
  agent_profile p;
  p.id = 2;
  p.business_unit = 4593;
  p.phone = "805003";
  p.system_username = "CORP\\jdoe";
  p.crm_username = "jdoe@crm";
  p.username = "jdoe";
  p.device_id = 17;
  p.device_alias = "Desk 17";
  return p;
}

recording make_recording(std::string id, recording_kind kind, timestamp start,
                         std::string call_id = "c-77") {
  recording r;
  r.id = std::move(id);
  r.kind = kind;
  r.agent_id = 2;
  r.call_instance = std::move(call_id);
  r.start = start;
  r.server_id = "server-a";
  return r;
}

/// A live state using every feature the persisted form must keep.
agent_live sample_live() {
  agent_live live;
  call active;
  active.call_id = "c-77";
  active.call_identifier = "111222";
  active.state = call_state::on_call;
  active.start = base;
  active.meta = {{"ani", "8005551234"},
                 {"dnis", "805003"},
                 {"calldirection", "I"},
                 {"user2", "1234567890"}};
  auto audio = make_recording("11111111-1111-4111-8111-111111111111",
                              recording_kind::audio, sample);
  audio.call_identifier = "111222";
  audio.meta = active.meta;
  audio.blackouts = {{sample + sec, sample + 2 * sec},
                     {sample + 5 * sec, std::nullopt}};
  active.recordings.push_back(audio);
  auto done = make_recording("22222222-2222-4222-8222-222222222222",
                             recording_kind::duplicate, base + sec);
  done.state = recording_state::completed;
  done.stop = base + 2 * sec;
  done.reason = stop_reason::api;
  done.meta = {{"ani", "8005551234"}};
  active.recordings.push_back(done);
  live.active_call = active;

  call held;
  held.call_id = "c-78";
  held.state = call_state::parked;
  held.start = base - 60 * sec;
  held.meta = {{"quote\"d", "back\\slash\nnew line \xc3\xa9"}};
  live.inactive_calls.push_back(held);
  call on_hold;
  on_hold.call_id = "c-79";
  on_hold.state = call_state::on_hold;
  on_hold.start = base - 30 * sec;
  live.inactive_calls.push_back(on_hold);

  auto screen = make_recording("33333333-3333-4333-8333-333333333333",
                               recording_kind::screen, base, "");
  screen.meta = {{"user1", "API Initiated"}};
  live.desktop_session = screen;

  live.blackout.active = true;
  live.blackout.start = sample + sec;
  live.blackout.scheduled_stop = sample + 60 * sec;
  live.blackout.origin = "server-b";

  auto old = make_recording("44444444-4444-4444-8444-444444444444",
                            recording_kind::audio, base - 600 * sec, "c-1");
  old.state = recording_state::completed;
  old.stop = base - 500 * sec;
  old.reason = stop_reason::call_ended;
  old.blackouts = {{base - 550 * sec, base - 500 * sec}};
  live.recent.push_back(old);
  auto removed = make_recording("55555555-5555-4555-8555-555555555555",
                                recording_kind::screen, base - 400 * sec, "");
  removed.state = recording_state::completed;
  removed.stop = base - 300 * sec;
  removed.reason = stop_reason::agent_removed;
  live.recent.push_back(removed);
  return live;
}

bool same_recording(const recording& a, const recording& b) {
  return a.id == b.id && a.kind == b.kind && a.state == b.state
         && a.agent_id == b.agent_id && a.call_instance == b.call_instance
         && a.call_identifier == b.call_identifier && a.start == b.start
         && a.stop == b.stop && a.reason == b.reason && a.meta == b.meta
         && a.blackouts == b.blackouts && a.server_id == b.server_id;
}

bool same_call(const call& a, const call& b) {
  if (a.call_id != b.call_id || a.call_identifier != b.call_identifier
      || a.state != b.state || a.start != b.start || a.meta != b.meta
      || a.recordings.size() != b.recordings.size())
    return false;
  for (std::size_t i = 0; i < a.recordings.size(); ++i)
    if (!same_recording(a.recordings[i], b.recordings[i]))
      return false;
  return true;
}

/// Every key of a memory store, with its value.
std::map<std::string, std::string> dump(rapi::memory_store& s) {
  std::map<std::string, std::string> out;
  s.scan("", "", [&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  return out;
}

std::size_t count_prefix(const std::map<std::string, std::string>& m,
                         const std::string& prefix) {
  std::size_t n = 0;
  for (auto& [k, v] : m)
    if (k.compare(0, prefix.size(), prefix) == 0)
      ++n;
  return n;
}

bool decode_profile_text(const std::string& text, agent_profile& out,
                         std::string& error, std::int64_t id_from_path = 0) {
  auto v = parse(text);
  return rapi::decode_profile(v, out, error, id_from_path);
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec_test)

// -- rendering --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(agent_fields_in_vendor_order) {
  std::string out;
  rapi::append_agent(out, sample_profile(), sample_live());
  const std::string prefix =
    "{\"AgentId\":2,\"BusinessUnit\":4593,\"AgentPhone\":\"805003\","
    "\"SystemUsername\":\"CORP\\\\jdoe\",\"CrmUsername\":\"jdoe@crm\","
    "\"ActiveCall\":{";
  BOOST_TEST(out.substr(0, prefix.size()) == prefix);
  auto v = parse(out);
  const std::vector<std::string> expected{
    "AgentId",     "BusinessUnit",  "AgentPhone", "SystemUsername",
    "CrmUsername", "ActiveCall",    "InactiveCalls", "Username",
    "DeviceId",    "DeviceAlias",   "DesktopOnlySessions", "Blackout"};
  BOOST_TEST(member_names(v) == expected, boost::test_tools::per_element());
  BOOST_TEST(v.find("Username")->text == "jdoe");
  BOOST_TEST(v.find("DeviceId")->text == "17");
  BOOST_TEST(v.find("DeviceAlias")->text == "Desk 17");
  BOOST_TEST(v.find("InactiveCalls")->items.size() == 2u);
  BOOST_TEST(v.find("DesktopOnlySessions")->items.size() == 1u);
  // The tail after DeviceAlias.
  BOOST_TEST(out.find("\"DeviceAlias\":\"Desk 17\",\"DesktopOnlySessions\":[")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unset_fields_render_as_null) {
  agent_profile p;
  p.id = 5;
  std::string out;
  rapi::append_agent(out, p, agent_live{});
  BOOST_TEST(out
             == "{\"AgentId\":5,\"BusinessUnit\":null,\"AgentPhone\":null,"
                "\"SystemUsername\":null,\"CrmUsername\":null,"
                "\"ActiveCall\":null,\"InactiveCalls\":[],\"Username\":null,"
                "\"DeviceId\":null,\"DeviceAlias\":null,"
                "\"DesktopOnlySessions\":[],"
                "\"Blackout\":{\"Active\":false,\"StartTime\":null,"
                "\"StopTime\":null,\"ScheduledStopTime\":null,"
                "\"Origin\":null,\"ScheduledStartTime\":null}}");
}

BOOST_AUTO_TEST_CASE(zero_integers_are_not_null) {
  agent_profile p;
  p.id = 5;
  p.business_unit = 0;
  p.device_id = 0;
  std::string out;
  rapi::append_agent(out, p, agent_live{});
  auto v = parse(out);
  BOOST_TEST(v.find("BusinessUnit")->text == "0");
  BOOST_TEST(v.find("DeviceId")->text == "0");
}

BOOST_AUTO_TEST_CASE(recording_shape_and_time_format) {
  auto r = make_recording("11111111-1111-4111-8111-111111111111",
                          recording_kind::audio, sample);
  r.blackouts = {{sample, std::nullopt}};
  auto text = rapi::render_recording(r);
  BOOST_TEST(text
             == "{\"RecordingIdentifier\":"
                "\"11111111-1111-4111-8111-111111111111\",\"Kind\":\"Audio\","
                "\"IsDuplicate\":false,\"RecordingState\":\"Recording\","
                "\"AgentId\":2,\"CallInstance\":\"c-77\","
                "\"CallIdentifier\":null,"
                "\"StartTime\":\"2026-11-30T10:15:30.123+00:00\","
                "\"StopTime\":null,\"StopReason\":null,\"Metadata\":{},"
                "\"Blackouts\":[{\"StartTime\":"
                "\"2026-11-30T10:15:30.123+00:00\",\"StopTime\":null}],"
                "\"ServerId\":\"server-a\"}");
  r.kind = recording_kind::duplicate;
  r.state = recording_state::completed;
  r.stop = sample + 877;
  r.reason = stop_reason::call_ended;
  auto v = parse(rapi::render_recording(r));
  BOOST_TEST(v.find("Kind")->text == "Duplicate");
  BOOST_TEST(v.find("IsDuplicate")->boolean == true);
  BOOST_TEST(v.find("RecordingState")->text == "Completed");
  BOOST_TEST(v.find("StopTime")->text == "2026-11-30T10:15:31.000+00:00");
  BOOST_TEST(v.find("StopReason")->text == "CallEnded");
}

BOOST_AUTO_TEST_CASE(call_shape) {
  auto live = sample_live();
  std::string out;
  rapi::append_call(out, *live.active_call);
  auto v = parse(out);
  const std::vector<std::string> expected{"CallInstance", "CallIdentifier",
                                          "CallState",    "StartTime",
                                          "Recordings",   "Metadata"};
  BOOST_TEST(member_names(v) == expected, boost::test_tools::per_element());
  BOOST_TEST(v.find("CallState")->text == "OnCall");
  BOOST_TEST(v.find("StartTime")->text == "2026-11-30T10:00:00.000+00:00");
  // Metadata keeps arrival order.
  const std::vector<std::string> keys{"ani", "dnis", "calldirection", "user2"};
  BOOST_TEST(member_names(*v.find("Metadata")) == keys,
             boost::test_tools::per_element());
  std::string held;
  rapi::append_call(held, live.inactive_calls[0]);
  auto h = parse(held);
  BOOST_TEST(h.find("CallState")->text == "Parked");
  BOOST_TEST(h.find("CallIdentifier")->is_null());
  // Escapes survive: the parsed key and value equal the originals.
  auto* meta = h.find("Metadata");
  BOOST_REQUIRE(meta->members.size() == 1u);
  BOOST_TEST(meta->members[0].first == "quote\"d");
  BOOST_TEST(meta->members[0].second.text == "back\\slash\nnew line \xc3\xa9");
}

BOOST_AUTO_TEST_CASE(blackout_shape) {
  rapi::blackout_state b;
  b.active = true;
  b.start = sample;
  b.scheduled_stop = sample + 600 * sec;
  b.origin = "server-a";
  BOOST_TEST(rapi::render_blackout(b)
             == "{\"Active\":true,"
                "\"StartTime\":\"2026-11-30T10:15:30.123+00:00\","
                "\"StopTime\":null,"
                "\"ScheduledStopTime\":\"2026-11-30T10:25:30.123+00:00\","
                "\"Origin\":\"server-a\",\"ScheduledStartTime\":null}");
}

BOOST_AUTO_TEST_CASE(json_strings_escape_what_they_must_and_copy_the_rest) {
  auto lit = [](std::string_view s) {
    std::string out;
    rapi::append_json_string(out, s);
    return out;
  };
  BOOST_TEST(lit("") == "\"\"");
  BOOST_TEST(lit("plain ascii 0-9 ~") == "\"plain ascii 0-9 ~\"");
  // Escapes at the start, between plain runs and at the end.
  BOOST_TEST(lit("\"a\\b\nc\rd\te\bf\fg") ==
             "\"\\\"a\\\\b\\nc\\rd\\te\\bf\\fg\"");
  BOOST_TEST(lit(std::string("x\x01y\x1f", 4)) == "\"x\\u0001y\\u001f\"");
  BOOST_TEST(lit("del\x7f") == "\"del\x7f\"");
  // UTF-8 passes through between plain runs; a bad byte or a cut-off
  // sequence becomes U+FFFD.
  BOOST_TEST(lit("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!") ==
             "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!\"");
  BOOST_TEST(lit("a\xff" "b") == "\"a\xef\xbf\xbd" "b\"");
  BOOST_TEST(lit("end\xe2\x82") == "\"end\xef\xbf\xbd\xef\xbf\xbd\"");
  // Whatever the bytes, the result parses back to the text (bad bytes
  // replaced): every mix of plain runs and escapes over a small alphabet.
  const std::string alphabet[] = {"a", "bc", "\"", "\\", "\n", "\x01",
                                  "\xc3\xa9", "/"};
  for (int n = 0; n < 8 * 8 * 8; ++n) {
    std::string text;
    for (int k = n, i = 0; i < 3; ++i, k /= 8)
      text += alphabet[k % 8];
    auto v = parse("{\"k\":" + lit(text) + "}");
    BOOST_TEST(v.find("k")->text == text);
  }
}

BOOST_AUTO_TEST_CASE(json_strings_find_a_byte_to_escape_anywhere_in_long_text) {
  // Plain runs are scanned eight bytes at a time: every byte value, at
  // every position of a text longer than two words, comes out as it would
  // alone.
  auto lit = [](std::string_view s) {
    std::string out;
    rapi::append_json_string(out, s);
    return out;
  };
  const std::string plain = "0123456789abcdefghij";
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const auto alone = lit(one); // "\"...\""
    const auto escaped = alone.substr(1, alone.size() - 2);
    for (std::size_t at = 0; at <= plain.size(); ++at) {
      auto text = plain.substr(0, at) + one + plain.substr(at);
      auto want = "\"" + plain.substr(0, at) + escaped + plain.substr(at)
                  + "\"";
      BOOST_TEST(lit(text) == want, "byte " << b << " at " << at);
    }
  }
}

BOOST_AUTO_TEST_CASE(control_characters_are_escaped) {
  rapi::metadata m{{"k", std::string("a\x01\tb\x1f", 5)}};
  std::string out;
  rapi::append_metadata(out, m);
  BOOST_TEST(out == "{\"k\":\"a\\u0001\\tb\\u001f\"}");
  auto v = parse(out);
  BOOST_TEST(v.find("k")->text == std::string("a\x01\tb\x1f", 5));
}

// -- persisted values -------------------------------------------------------

/// Every recording a live state holds, by id (what `r:` keys hold).
std::map<std::string, recording> recordings_of(const agent_live& live) {
  std::map<std::string, recording> all;
  auto add = [&](const recording& r) { all.emplace(r.id, r); };
  for (auto* c : {live.active_call ? &*live.active_call : nullptr})
    if (c)
      for (auto& r : c->recordings)
        add(r);
  for (auto& c : live.inactive_calls)
    for (auto& r : c.recordings)
      add(r);
  if (live.desktop_session)
    add(*live.desktop_session);
  for (auto& r : live.recent)
    add(r);
  return all;
}

void check_same_live(const agent_live& back, const agent_live& live) {
  BOOST_REQUIRE(back.active_call.has_value());
  BOOST_TEST(same_call(*back.active_call, *live.active_call));
  BOOST_REQUIRE(back.inactive_calls.size() == 2u);
  BOOST_TEST(same_call(back.inactive_calls[0], live.inactive_calls[0]));
  BOOST_TEST(same_call(back.inactive_calls[1], live.inactive_calls[1]));
  BOOST_REQUIRE(back.desktop_session.has_value());
  BOOST_TEST(same_recording(*back.desktop_session, *live.desktop_session));
  BOOST_TEST((back.blackout == live.blackout));
  BOOST_REQUIRE(back.recent.size() == 2u);
  BOOST_TEST(same_recording(back.recent[0], live.recent[0]));
  BOOST_TEST(same_recording(back.recent[1], live.recent[1]));
}

BOOST_AUTO_TEST_CASE(live_round_trip_full_form) {
  // The full form is also how layout 1 stored live states.
  const auto live = sample_live();
  const auto text = rapi::encode_live(live, rapi::live_form::full);
  agent_live back;
  BOOST_REQUIRE(rapi::decode_live(text, back));
  check_same_live(back, live);
  // Encoding again gives the same bytes.
  BOOST_TEST(rapi::encode_live(back, rapi::live_form::full) == text);
}

BOOST_AUTO_TEST_CASE(live_round_trip_stored_form) {
  const auto live = sample_live();
  const auto text = rapi::encode_live(live);
  // Recordings appear by id only: no recording object in the value.
  BOOST_TEST(text.find("RecordingIdentifier") == std::string::npos);
  BOOST_TEST(text.size() * 2 < rapi::encode_live(live, rapi::live_form::full).size());
  const auto all = recordings_of(live);
  BOOST_TEST(all.size() == 5u);
  std::vector<std::string> asked;
  auto lookup = [&](const std::string& id, recording& r) {
    asked.push_back(id);
    auto it = all.find(id);
    if (it == all.end())
      return false;
    r = it->second;
    return true;
  };
  agent_live back;
  BOOST_REQUIRE(rapi::decode_live(text, back, lookup));
  check_same_live(back, live);
  BOOST_TEST(asked.size() == all.size());
  BOOST_TEST(rapi::encode_live(back) == text);
  // Without a lookup, or with one that misses, the value is unreadable.
  BOOST_TEST(!rapi::decode_live(text, back));
  BOOST_TEST(!rapi::decode_live(
    text, back, [](const std::string&, recording&) { return false; }));
}

BOOST_AUTO_TEST_CASE(empty_live_round_trip) {
  agent_live back;
  back.active_call.emplace(); // must be reset by decoding
  BOOST_REQUIRE(rapi::decode_live(rapi::encode_live(agent_live{}), back));
  BOOST_TEST(!back.active_call.has_value());
  BOOST_TEST(back.inactive_calls.empty());
  BOOST_TEST(!back.desktop_session.has_value());
  BOOST_TEST(back.recent.empty());
  BOOST_TEST((back.blackout == rapi::blackout_state{}));
}

BOOST_AUTO_TEST_CASE(scheduled_blackout_round_trip) {
  agent_live live;
  live.blackout.scheduled_start = sample;
  live.blackout.stop = base;
  live.blackout.start = base - sec;
  live.blackout.origin = "server-c";
  agent_live back;
  BOOST_REQUIRE(rapi::decode_live(rapi::encode_live(live), back));
  BOOST_TEST((back.blackout == live.blackout));
}

BOOST_AUTO_TEST_CASE(blackout_history_forms) {
  // Written as [start, stop] milliseconds; objects with ISO times (as the
  // first servers wrote them) are still read.
  agent_live live;
  live.blackout.history = {{base, base + sec}, {base + 2 * sec, base + 3 * sec}};
  const auto text = rapi::encode_live(live);
  BOOST_TEST(text.find("\"History\":[[" + std::to_string(base) + ","
                       + std::to_string(base + sec) + "],[")
             != std::string::npos, text);
  agent_live back;
  BOOST_REQUIRE(rapi::decode_live(text, back));
  BOOST_TEST((back.blackout.history == live.blackout.history));
  const std::string old =
    "{\"ActiveCall\":null,\"InactiveCalls\":[],\"DesktopOnlySessions\":[],"
    "\"Blackout\":{\"Active\":false,\"History\":[{\"StartTime\":"
    "\"2026-11-30T10:00:00.000+00:00\",\"StopTime\":"
    "\"2026-11-30T10:00:01.000+00:00\"}]},\"Recent\":[]}";
  BOOST_REQUIRE(rapi::decode_live(old, back));
  BOOST_REQUIRE(back.blackout.history.size() == 1u);
  BOOST_TEST(back.blackout.history[0].stop.value_or(0)
             - back.blackout.history[0].start == sec);
  // A malformed pair makes the value unreadable.
  for (auto bad : {"[1]", "[\"1\",2]", "[1,\"x\"]", "[1,2,3]"}) {
    std::string t = "{\"Blackout\":{\"History\":[" + std::string(bad) + "]}}";
    BOOST_TEST(!rapi::decode_live(t, back), t);
  }
}

BOOST_AUTO_TEST_CASE(decode_live_rejects_garbage) {
  agent_live out;
  BOOST_TEST(!rapi::decode_live("", out));
  BOOST_TEST(!rapi::decode_live("[]", out));
  BOOST_TEST(!rapi::decode_live("{\"ActiveCall\":", out));
  // A call without CallInstance, or with an unknown state.
  BOOST_TEST(!rapi::decode_live("{\"ActiveCall\":{\"CallState\":\"OnCall\","
                                "\"StartTime\":\"2026-11-30T10:00:00Z\"}}",
                                out));
  BOOST_TEST(!rapi::decode_live("{\"ActiveCall\":{\"CallInstance\":\"c\","
                                "\"CallState\":\"Ringing\","
                                "\"StartTime\":\"2026-11-30T10:00:00Z\"}}",
                                out));
  // A recording without an id.
  BOOST_TEST(!rapi::decode_live("{\"DesktopOnlySessions\":[{\"Kind\":"
                                "\"Screen\",\"StartTime\":"
                                "\"2026-11-30T10:00:00Z\"}]}",
                                out));
}

BOOST_AUTO_TEST_CASE(recording_round_trip) {
  auto live = sample_live();
  for (const recording* r : std::initializer_list<const recording*>{&live.active_call->recordings[0],
                  &live.active_call->recordings[1], &*live.desktop_session,
                  &live.recent[0]}) {
    BOOST_TEST_CONTEXT("recording " << r->id) {
      recording back;
      BOOST_REQUIRE(rapi::decode_recording(rapi::render_recording(*r), back));
      BOOST_TEST(same_recording(back, *r));
    }
  }
  recording out;
  BOOST_TEST(!rapi::decode_recording(std::string_view("{}"), out));
  BOOST_TEST(!rapi::decode_recording(std::string_view("nope"), out));
}

BOOST_AUTO_TEST_CASE(profile_round_trip) {
  auto p = sample_profile();
  agent_profile back;
  std::string error;
  BOOST_REQUIRE(decode_profile_text(rapi::encode_profile(p), back, error));
  BOOST_TEST((back == p));
  agent_profile bare;
  bare.id = 9;
  BOOST_REQUIRE(decode_profile_text(rapi::encode_profile(bare), back, error));
  BOOST_TEST((back == bare));
}

BOOST_AUTO_TEST_CASE(decode_profile_reads_a_get_response) {
  // A GET /api/Agent response can be sent back as a profile: the live
  // fields are ignored.
  std::string out;
  rapi::append_agent(out, sample_profile(), sample_live());
  agent_profile back;
  std::string error;
  BOOST_REQUIRE_MESSAGE(decode_profile_text(out, back, error), error);
  BOOST_TEST((back == sample_profile()));
}

BOOST_AUTO_TEST_CASE(decode_profile_field_names_and_types) {
  agent_profile p;
  std::string error;
  BOOST_REQUIRE_MESSAGE(
    decode_profile_text("{\"agentid\":\"7\",\"BUSINESSUNIT\":\"-3\","
                        "\"Phone\":5003,\"crmusername\":\"a@b\","
                        "\"DeviceId\":17,\"DeviceAlias\":null}",
                        p, error),
    error);
  BOOST_TEST(p.id == 7);
  BOOST_TEST((p.business_unit == std::optional<std::int64_t>(-3)));
  BOOST_TEST(p.phone == "5003");
  BOOST_TEST(p.crm_username == "a@b");
  BOOST_TEST((p.device_id == std::optional<std::int64_t>(17)));
  BOOST_TEST(p.device_alias.empty());
  // The Id alias.
  BOOST_REQUIRE(decode_profile_text("{\"Id\":8}", p, error));
  BOOST_TEST(p.id == 8);
}

BOOST_AUTO_TEST_CASE(decode_profile_errors_name_the_field) {
  struct row {
    const char* body;
    const char* names;
  };
  const row rows[] = {
    {"{\"AgentID\":1,\"Email\":\"x\"}", "Email"},
    {"{\"AgentID\":\"one\"}", "AgentID"},
    {"{\"AgentID\":1.5}", "AgentID"},
    {"{\"AgentID\":true}", "AgentID"},
    {"{\"AgentID\":1,\"BusinessUnit\":\"x\"}", "BusinessUnit"},
    {"{\"AgentID\":1,\"BusinessUnit\":[1]}", "BusinessUnit"},
    {"{\"AgentID\":1,\"DeviceId\":1e3}", "DeviceId"},
    {"{\"AgentID\":1,\"AgentPhone\":true}", "AgentPhone"},
    {"{\"AgentID\":1,\"AgentPhone\":{}}", "AgentPhone"},
    {"{\"AgentID\":1,\"Username\":[]}", "Username"},
    {"{\"AgentID\":1,\"SystemUsername\":false}", "SystemUsername"},
    {"{\"AgentID\":1,\"CrmUsername\":{\"a\":1}}", "CrmUsername"},
    {"{\"AgentID\":1,\"DeviceAlias\":[\"x\"]}", "DeviceAlias"},
    {"{\"AgentID\":0}", "AgentID"},
    {"{\"AgentID\":-4}", "AgentID"},
    {"{\"BusinessUnit\":1}", "AgentID"},
  };
  for (auto& r : rows) {
    BOOST_TEST_CONTEXT("body " << r.body) {
      agent_profile p;
      std::string error;
      BOOST_TEST(!decode_profile_text(r.body, p, error));
      BOOST_TEST(error.find(r.names) != std::string::npos,
                 "error '" << error << "' does not name " << r.names);
    }
  }
  agent_profile p;
  std::string error;
  BOOST_TEST(!decode_profile_text("[]", p, error));
  BOOST_TEST(!error.empty());
  const std::string long_phone(257, '1');
  BOOST_TEST(!decode_profile_text(
    "{\"AgentID\":1,\"AgentPhone\":\"" + long_phone + "\"}", p, error));
  BOOST_TEST(error.find("AgentPhone") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(decode_profile_id_from_path) {
  agent_profile p;
  std::string error;
  // The path supplies a missing id.
  BOOST_REQUIRE(decode_profile_text("{\"AgentPhone\":\"1\"}", p, error, 12));
  BOOST_TEST(p.id == 12);
  // Agreeing ids are fine.
  BOOST_REQUIRE(decode_profile_text("{\"AgentId\":12}", p, error, 12));
  BOOST_TEST(p.id == 12);
  // A mismatch names both.
  BOOST_TEST(!decode_profile_text("{\"AgentId\":13}", p, error, 12));
  BOOST_TEST(error.find("13") != std::string::npos);
  BOOST_TEST(error.find("12") != std::string::npos);
  BOOST_TEST(!decode_profile_text("{\"AgentId\":0}", p, error, 12));
  // Without path and body id, the id is required.
  BOOST_TEST(!decode_profile_text("{}", p, error));
  BOOST_TEST(error.find("AgentID") != std::string::npos);
}

// -- the key-value mapping --------------------------------------------------

BOOST_AUTO_TEST_CASE(keys_are_the_documented_layout) {
  // storage/keys.hpp: what is on disk, byte for byte.
  namespace keys = rapi::keys;
  BOOST_TEST(keys::hex16(0x1234abcdULL) == "000000001234abcd");
  BOOST_TEST(keys::profile(7) == "p:0000000000000007");
  BOOST_TEST(keys::live(0x7fffffffffffffffLL) == "a:7fffffffffffffff");
  BOOST_TEST(keys::recording("abc-1") == "r:abc-1");
  // INT64_MAX - 1000 ms, UINT64_MAX - 5.
  BOOST_TEST(keys::by_time(1000, 5, "id") ==
             "t:7ffffffffffffc17:fffffffffffffffa:id");
  BOOST_TEST(keys::agent_prefix(2) == "g:0000000000000002:");
  BOOST_TEST(keys::by_agent(2, 1000, 5, "id") ==
             "g:0000000000000002:7ffffffffffffc17:fffffffffffffffa:id");
  BOOST_TEST(keys::id_of_index_key(keys::by_agent(2, 1000, 5, "id")) == "id");
}

BOOST_AUTO_TEST_CASE(add_changes_writes_live_recordings_and_indexes) {
  rapi::memory_store store;
  auto live = sample_live();
  rapi::outcome out;
  out.state_changed = true;
  auto fresh = live.active_call->recordings[0];
  auto old = live.active_call->recordings[1];
  out.recordings.push_back({fresh, true, {}});
  out.recordings.push_back({old, false, {}});
  rapi::write_batch batch;
  rapi::add_changes(batch, 2, live, out);
  BOOST_REQUIRE(store.write(batch).ok());
  auto m = dump(store);
  BOOST_TEST(m.size() == 5u);
  BOOST_TEST(m.count("a:0000000000000002") == 1u);
  BOOST_TEST(m["a:0000000000000002"] == rapi::encode_live(live));
  BOOST_TEST(m.count("r:" + fresh.id) == 1u);
  BOOST_TEST(m.count("r:" + old.id) == 1u);
  recording stored;
  BOOST_REQUIRE(rapi::decode_recording(m["r:" + fresh.id], stored));
  BOOST_TEST(same_recording(stored, fresh));
  // Index keys only for the new recording.
  BOOST_TEST(count_prefix(m, "t:") == 1u);
  BOOST_TEST(count_prefix(m, "g:0000000000000002:") == 1u);
  BOOST_TEST(m.count(rapi::keys::by_time(fresh.start, fresh.seq, fresh.id))
             == 1u);
  BOOST_TEST(
    m.count(rapi::keys::by_agent(2, fresh.start, fresh.seq, fresh.id)) == 1u);
  BOOST_TEST(m.count(rapi::keys::by_time(old.start, old.seq, old.id)) == 0u);
}

BOOST_AUTO_TEST_CASE(add_changes_without_state_change) {
  auto live = sample_live();
  rapi::outcome out;
  out.state_changed = false;
  rapi::write_batch batch;
  rapi::add_changes(batch, 2, live, out);
  BOOST_TEST(batch.empty());
  out.recordings.push_back({live.recent[0], false, {}});
  rapi::add_changes(batch, 2, live, out);
  BOOST_REQUIRE(batch.ops.size() == 1u);
  BOOST_TEST(batch.ops[0].key == "r:" + live.recent[0].id);
  BOOST_TEST(batch.ops[0].value == rapi::render_recording(live.recent[0]));
  // A change that carries its rendering (the command's answer) is stored
  // as it is, not rendered again.
  out.recordings[0].json = "{\"as\":\"answered\"}";
  rapi::write_batch again;
  rapi::add_changes(again, 2, live, out);
  BOOST_REQUIRE(again.ops.size() == 1u);
  BOOST_TEST(again.ops[0].value == out.recordings[0].json);
}

BOOST_AUTO_TEST_CASE(cached_renderings_are_used_only_while_they_hold) {
  // Whatever changes, and in whichever part of the blackout or the recent
  // recordings, the encoding with the cache is the encoding without it.
  auto live = sample_live();
  BOOST_REQUIRE(live.recent.size() >= 1u);
  rapi::live_render_cache cache;
  auto check = [&](const char* step) {
    BOOST_TEST(rapi::encode_live(live, rapi::live_form::stored, &cache)
                 == rapi::encode_live(live),
               step);
    BOOST_TEST(cache.blackout_valid);
    BOOST_TEST(cache.recent_valid);
  };
  check("first");
  check("unchanged (from the cache)");
  BOOST_TEST(cache.blackout_json.find("\"Active\"") == 1u);
  BOOST_TEST(cache.recent_json.find(live.recent[0].id) != std::string::npos);
  live.active_call->meta = {{"only", "the call changed"}};
  check("another part changed");
  live.blackout.active = !live.blackout.active;
  check("active");
  live.blackout.start = 1'796'033'730'123;
  check("start");
  live.blackout.stop = 1'796'033'731'000;
  check("stop");
  live.blackout.scheduled_start = 1'796'033'740'000;
  check("scheduled start");
  live.blackout.scheduled_stop = 1'796'033'750'000;
  check("scheduled stop");
  live.blackout.origin = "server-b";
  check("origin");
  live.blackout.history.push_back({1'796'033'000'000, 1'796'033'001'000});
  check("history grew");
  live.blackout.history.back().stop = 1'796'033'002'000;
  check("history changed");
  live.blackout.version.logical += 1;
  check("version");
  // The recent recordings: a copy of the state shares their buffer (as the
  // published snapshot does), and every change of them is seen.
  auto snapshot = live;
  check("recent shared with a copy");
  live.recent.edit()[0].id = "ffffffff-0000-4000-8000-000000000000";
  check("a recent id changed in place");
  live.recent.push_back(live.recent[0]);
  check("recent grew");
  auto& items = live.recent.edit();
  items.erase(items.begin());
  check("recent pruned");
  live.recent.clear();
  check("recent emptied");
  live.recent = snapshot.recent;
  check("recent put back");
  // No copy shares the buffer any more but the cache's hold: a change
  // still goes to a new buffer, which the cache tells from its own.
  snapshot.recent.clear();
  check("recent shared with the cache alone");
  live.recent.edit()[0].id = "eeeeeeee-0000-4000-8000-000000000000";
  check("a recent id changed, nothing else sharing");
  // The full form (admin view) neither uses nor fills it.
  rapi::live_render_cache unused;
  BOOST_TEST(rapi::encode_live(live, rapi::live_form::full, &unused)
             == rapi::encode_live(live, rapi::live_form::full));
  BOOST_TEST(!unused.blackout_valid);
  BOOST_TEST(!unused.recent_valid);
}

BOOST_AUTO_TEST_CASE(index_keys_sort_newest_first) {
  rapi::memory_store store;
  agent_live live;
  rapi::outcome out;
  auto older = make_recording("aaaaaaaa-0000-4000-8000-000000000000",
                              recording_kind::audio, base);
  older.seq = 7;
  auto newer = make_recording("bbbbbbbb-0000-4000-8000-000000000000",
                              recording_kind::audio, base + sec);
  newer.seq = 8;
  // Same millisecond: the later creation (higher seq) comes first.
  auto twin = make_recording("00000000-0000-4000-8000-000000000000",
                             recording_kind::audio, base + sec);
  twin.seq = 9;
  out.recordings.push_back({older, true, {}});
  out.recordings.push_back({newer, true, {}});
  out.recordings.push_back({twin, true, {}});
  rapi::write_batch batch;
  rapi::add_changes(batch, 2, live, out);
  BOOST_REQUIRE(store.write(batch).ok());
  std::vector<std::string> ids;
  store.scan("t:", "", [&](std::string_view k, std::string_view) {
    ids.emplace_back(rapi::keys::id_of_index_key(k));
    return true;
  });
  BOOST_TEST(ids == (std::vector<std::string>{twin.id, newer.id, older.id}),
             boost::test_tools::per_element());
  std::vector<std::string> mine;
  store.scan(rapi::keys::agent_prefix(2), "",
             [&](std::string_view k, std::string_view) {
               mine.emplace_back(rapi::keys::id_of_index_key(k));
               return true;
             });
  BOOST_TEST(mine == ids, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(add_removal_deletes_profile_and_live) {
  rapi::memory_store store;
  rapi::write_batch batch;
  rapi::add_profiles(batch, {sample_profile()});
  rapi::outcome out;
  out.state_changed = true;
  rapi::add_changes(batch, 2, sample_live(), out);
  BOOST_REQUIRE(store.write(batch).ok());
  BOOST_TEST(store.size() == 2u);
  rapi::write_batch rm;
  rapi::add_removal(rm, 2);
  BOOST_REQUIRE(store.write(rm).ok());
  BOOST_TEST(store.size() == 0u);
}

BOOST_AUTO_TEST_CASE(check_layout_on_empty_store_writes_version) {
  rapi::memory_store store;
  BOOST_TEST(rapi::check_layout(store) == "");
  rapi::storage_status st;
  auto v = store.get(rapi::keys::layout, st);
  BOOST_REQUIRE(v.has_value());
  BOOST_TEST(*v == std::to_string(rapi::keys::layout_version));
  BOOST_TEST(*v == "2");
  // A second start accepts its own layout.
  BOOST_TEST(rapi::check_layout(store) == "");
  BOOST_TEST(store.size() == 1u);
}

BOOST_AUTO_TEST_CASE(check_layout_refuses_newer_layout) {
  rapi::memory_store store;
  rapi::write_batch b;
  b.put(std::string(rapi::keys::layout),
        std::to_string(rapi::keys::layout_version + 1));
  b.put("p:0000000000000001", "{\"AgentId\":1}");
  BOOST_REQUIRE(store.write(b).ok());
  auto err = rapi::check_layout(store);
  BOOST_TEST(!err.empty());
  BOOST_TEST(err.find("3") != std::string::npos);
  // The data is left untouched.
  rapi::storage_status st;
  BOOST_TEST(*store.get(rapi::keys::layout, st) == "3");
  BOOST_TEST(store.size() == 2u);
}

BOOST_AUTO_TEST_CASE(check_layout_upgrades_layout_1) {
  // Layout 1 held recordings in full inside `a:` values: still readable,
  // and the folder is marked 2 so that an older server refuses it.
  rapi::memory_store store;
  rapi::write_batch b;
  b.put(std::string(rapi::keys::layout), "1");
  b.put(rapi::keys::profile(2), rapi::encode_profile(sample_profile()));
  const auto live = sample_live();
  b.put(rapi::keys::live(2), rapi::encode_live(live, rapi::live_form::full));
  BOOST_REQUIRE(store.write(b).ok());
  // The read-only probe accepts it without writing.
  BOOST_TEST(rapi::check_layout(store, false) == "");
  rapi::storage_status st;
  BOOST_TEST(*store.get(rapi::keys::layout, st) == "1");
  BOOST_TEST(rapi::check_layout(store) == "");
  BOOST_TEST(*store.get(rapi::keys::layout, st) == "2");
  std::vector<rapi::stored_agent> loaded;
  auto err = rapi::load_agents(
    store, [&](rapi::stored_agent&& a) { loaded.push_back(std::move(a)); });
  BOOST_TEST(err == "");
  BOOST_REQUIRE(loaded.size() == 1u);
  check_same_live(loaded[0].live, live);
}

BOOST_AUTO_TEST_CASE(check_layout_refuses_keys_without_version) {
  rapi::memory_store store;
  rapi::write_batch b;
  b.put("p:0000000000000001", "{\"AgentId\":1}");
  BOOST_REQUIRE(store.write(b).ok());
  BOOST_TEST(!rapi::check_layout(store).empty());
  rapi::storage_status st;
  BOOST_TEST(!store.get(rapi::keys::layout, st).has_value());
}

BOOST_AUTO_TEST_CASE(check_layout_refuses_unreadable_version) {
  rapi::memory_store store;
  rapi::write_batch b;
  b.put(std::string(rapi::keys::layout), "one");
  BOOST_REQUIRE(store.write(b).ok());
  BOOST_TEST(!rapi::check_layout(store).empty());
}

BOOST_AUTO_TEST_CASE(check_layout_reports_write_failure) {
  rapi::memory_store store;
  store.fail_writes = true;
  BOOST_TEST(!rapi::check_layout(store).empty());
}

BOOST_AUTO_TEST_CASE(load_agents_round_trip) {
  rapi::memory_store store;
  BOOST_REQUIRE(rapi::check_layout(store).empty());
  auto p2 = sample_profile();
  agent_profile p10;
  p10.id = 10;
  p10.phone = "7000";
  agent_profile p300;
  p300.id = 300;
  rapi::write_batch batch;
  rapi::add_profiles(batch, {p300, p10, p2});
  rapi::outcome out;
  out.state_changed = true;
  const auto live2 = sample_live();
  // The recordings are stored under their own keys when they change.
  for (auto& [id, r] : recordings_of(live2))
    out.recordings.push_back({r, true, {}});
  rapi::add_changes(batch, 2, live2, out);
  out.recordings.clear();
  agent_live live10;
  live10.blackout.active = true;
  live10.blackout.start = base;
  live10.blackout.origin = "server-a";
  rapi::add_changes(batch, 10, live10, out);
  BOOST_REQUIRE(store.write(batch).ok());

  std::vector<rapi::stored_agent> loaded;
  auto err = rapi::load_agents(
    store, [&](rapi::stored_agent&& a) { loaded.push_back(std::move(a)); });
  BOOST_TEST(err == "");
  BOOST_REQUIRE(loaded.size() == 3u);
  // AgentID order (300 > 16, so hex ordering must be numeric).
  BOOST_TEST(loaded[0].profile.id == 2);
  BOOST_TEST(loaded[1].profile.id == 10);
  BOOST_TEST(loaded[2].profile.id == 300);
  BOOST_TEST((loaded[0].profile == p2));
  BOOST_TEST(rapi::encode_live(loaded[0].live) == rapi::encode_live(live2));
  BOOST_TEST((loaded[1].live.blackout == live10.blackout));
  // An agent without a stored live state starts empty.
  BOOST_TEST(!loaded[2].live.active_call.has_value());
  BOOST_TEST(!loaded[2].live.blackout.active);
}

BOOST_AUTO_TEST_CASE(load_agents_hands_over_many_agents_in_order) {
  // More agents than one chunk the reading thread hands over (2,048), some
  // with a live state: all of them, in AgentID order, each with its own.
  rapi::memory_store store;
  BOOST_REQUIRE(rapi::check_layout(store).empty());
  constexpr std::int64_t count = 5000;
  std::vector<agent_profile> profiles;
  for (std::int64_t id = 1; id <= count; ++id) {
    agent_profile p;
    p.id = id;
    p.phone = "55" + std::to_string(id);
    profiles.push_back(p);
  }
  rapi::write_batch batch;
  rapi::add_profiles(batch, profiles);
  rapi::outcome out;
  out.state_changed = true;
  for (std::int64_t id = 7; id <= count; id += 1000) {
    agent_live live;
    live.blackout.active = true;
    live.blackout.start = base + id;
    rapi::add_changes(batch, id, live, out);
  }
  BOOST_REQUIRE(store.write(batch).ok());
  std::vector<rapi::stored_agent> loaded;
  auto err = rapi::load_agents(
    store, [&](rapi::stored_agent&& a) { loaded.push_back(std::move(a)); });
  BOOST_TEST(err == "");
  BOOST_REQUIRE(loaded.size() == std::size_t(count));
  for (std::int64_t id = 1; id <= count; ++id) {
    auto& a = loaded[std::size_t(id - 1)];
    BOOST_REQUIRE(a.profile.id == id);
    BOOST_TEST(a.profile.phone == "55" + std::to_string(id));
    BOOST_TEST(a.has_live == (id % 1000 == 7));
    if (a.has_live)
      BOOST_TEST((a.live.blackout.start == base + id));
  }
  // One unreadable profile past the first chunks stops the load with its
  // key named; what came before it was handed over, nothing after.
  rapi::write_batch bad;
  bad.put(rapi::keys::profile(4500), "{not json");
  BOOST_REQUIRE(store.write(bad).ok());
  std::size_t handed = 0;
  err = rapi::load_agents(store, [&](rapi::stored_agent&& a) {
    BOOST_TEST(a.profile.id < 4500);
    ++handed;
  });
  BOOST_TEST(err == "stored profile " + rapi::keys::profile(4500)
                      + " is unreadable");
  BOOST_TEST(handed == 4499u);
}

BOOST_AUTO_TEST_CASE(load_agents_reports_unreadable_values) {
  {
    rapi::memory_store store;
    rapi::write_batch b;
    b.put(rapi::keys::profile(1), "{not json");
    BOOST_REQUIRE(store.write(b).ok());
    auto err = rapi::load_agents(store, [](rapi::stored_agent&&) {});
    BOOST_TEST(!err.empty());
  }
  {
    rapi::memory_store store;
    rapi::write_batch b;
    b.put(rapi::keys::profile(1), "{\"AgentId\":1}");
    b.put(rapi::keys::live(1), "{\"ActiveCall\":{}}");
    BOOST_REQUIRE(store.write(b).ok());
    int seen = 0;
    auto err = rapi::load_agents(store, [&](rapi::stored_agent&&) { ++seen; });
    BOOST_TEST(!err.empty());
    BOOST_TEST(err.find("1") != std::string::npos);
    BOOST_TEST(seen == 0);
  }
  {
    // A live state naming a recording that is not stored.
    rapi::memory_store store;
    rapi::write_batch b;
    b.put(rapi::keys::profile(1), "{\"AgentId\":1}");
    b.put(rapi::keys::live(1), "{\"ActiveCall\":null,\"InactiveCalls\":[],"
                               "\"DesktopOnlySessions\":[],\"Recent\":"
                               "[\"aaaaaaaa-0000-4000-8000-000000000000\"]}");
    BOOST_REQUIRE(store.write(b).ok());
    auto err = rapi::load_agents(store, [](rapi::stored_agent&&) {});
    BOOST_TEST(err.find("aaaaaaaa-0000-4000-8000-000000000000 is missing")
               != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
