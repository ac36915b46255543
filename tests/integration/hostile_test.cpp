/// Hostile-request catalogue (hardening issue, point 3): malformed and
/// hostile requests each get a 4xx JSON error or a closed connection —
/// never a 5xx, never a 2xx, never a crash, never a state change — and the
/// server answers a normal request right after every one of them.
///
/// The cases are tables run against one server per table: bodies and
/// parameters (sent with `request`), HTTP framing (raw bytes), and
/// pipelined garbage after a valid request (raw bytes; the valid request
/// may get its 200, nothing after it may get a 2xx). Each table starts
/// from the same state (a call with audio and duplicate recordings, a
/// desktop screen recording, a running blackout), and GetAll plus the
/// recordings list must read the same after the table as before it.
///
/// `-t hostile --log_level=message` lists what every case got.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "tests/integration/fixture.hpp"

using namespace rapi::test;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// -- the case table -----------------------------------------------------------

/// The answer a case must get when it gets one: a 4xx with the contract's
/// error shape, and this status/Code where the contract fixes them.
struct expect {
  int status = 0;   ///< 0: any 4xx
  std::string code; ///< "": any Code
};

const expect any_4xx{};
const expect invalid_json{400, "InvalidJson"};
const expect invalid_param{400, "InvalidParameter"};
const expect invalid_kind{400, "InvalidAgentIdentifier"};
const expect invalid_metadata{400, "InvalidMetadata"};
const expect invalid_time{400, "InvalidTime"};
const expect missing{404, "MissingParameter"};
const expect agent_not_found{404, "AgentNotFound"};
const expect no_route{404, "RouteNotFound"};
const expect no_method{405, "MethodNotAllowed"};
const expect too_large{413, "PayloadTooLarge"};
const expect conflict{409, "Conflict"};

enum class sent_by { request, raw };

struct hostile_case {
  std::string name;
  bool admin = false; ///< the admin listener instead of the API
  sent_by how = sent_by::request;
  // request: one exchange on a fresh client, which must be answered
  std::string method;
  std::string target;
  std::string body;
  header_list headers;
  // raw: bytes on a fresh connection, read until close or `wait`; no
  // answer at all is always fine
  std::string bytes;
  std::chrono::milliseconds wait = 3s;
  /// raw: the bytes start with this many legal requests, whose answers
  /// may be 200s; every answer after them must be a 4xx error.
  std::size_t legal_first = 0;
  expect want;
};

hostile_case call(std::string name, std::string method, std::string target,
                  std::string body = {}, expect want = any_4xx) {
  hostile_case c;
  c.name = std::move(name);
  c.method = std::move(method);
  c.target = std::move(target);
  c.body = std::move(body);
  c.want = std::move(want);
  return c;
}

hostile_case post(std::string name, std::string target, std::string body,
                  expect want = any_4xx) {
  return call(std::move(name), "POST", std::move(target), std::move(body),
              std::move(want));
}

hostile_case get(std::string name, std::string target,
                 expect want = any_4xx) {
  return call(std::move(name), "GET", std::move(target), {}, std::move(want));
}

hostile_case admin(hostile_case c) {
  c.admin = true;
  return c;
}

hostile_case wire(std::string name, std::string bytes,
                  std::chrono::milliseconds wait = 3s) {
  hostile_case c;
  c.name = std::move(name);
  c.how = sent_by::raw;
  c.bytes = std::move(bytes);
  c.wait = wait;
  return c;
}

std::string times(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

/// `{"AgentIdentifier":"<kind>","Value":"<value>"<more>}`
std::string sel(std::string_view kind, std::string_view value,
                std::string_view more = {}) {
  return "{\"AgentIdentifier\":\"" + std::string(kind) + "\",\"Value\":\""
         + std::string(value) + "\"" + std::string(more) + "}";
}

/// Agent 2 (on call c-1, recording, no blackout): most hostile commands
/// aim at it, so that accepting one would change something.
std::string a2(std::string_view more = {}) {
  return sel("Id", "2", more);
}

const std::string agent2_query = "/api/Agent?agentIdentifier=Id&value=2";

// -- the catalogue: bodies and parameters -------------------------------------

struct vendor_command {
  const char* path;
  const char* kind;  ///< AgentIdentifier of the agent it targets
  const char* value; ///< Value of that agent
  enum { record, screen, blackout_start, blackout_stop } type;
};

/// Every POST command of the seed, each aimed at an agent for which it
/// would succeed (and mostly change state) if the request were accepted.
const vendor_command vendor_commands[] = {
  {"/api/Record/StartForAgent", "Id", "2", vendor_command::record},
  {"/api/Record/StopForAgent", "Id", "2", vendor_command::record},
  {"/api/Record/UpdateForAgent", "Id", "2", vendor_command::record},
  {"/api/Record/StartDuplicateForAgent", "Id", "2", vendor_command::record},
  {"/api/Record/StopDuplicateForAgent", "Id", "2", vendor_command::record},
  {"/api/ScreenRecord/StartForAgent", "Phone", "7000",
   vendor_command::screen},
  {"/api/ScreenRecord/UpdateForAgent", "Phone", "7000",
   vendor_command::screen},
  {"/api/ScreenRecord/StopForAgent", "Phone", "7000", vendor_command::screen},
  {"/api/Blackout/StartForAgent", "Id", "2", vendor_command::blackout_start},
  {"/api/Blackout/StopForAgent", "Id", "3", vendor_command::blackout_stop},
};

void add_wrong_types(std::vector<hostile_case>& out) {
  const char* bad_kinds[] = {"2", "[\"Id\"]", "{\"Id\":1}", "true"};
  const char* bad_values[] = {"[2]", "{\"v\":\"2\"}", "true", "false"};
  const char* unknown_kinds[] = {
    "Email", "", "Id ", " Id", "I d", "Idd", "Id\\u0000", "\\u0399d",
    "AgentIdentifier", "Ph0ne"};
  const char* bad_call_ids[] = {"{\"c\":1}", "[1]", "true", "[]", "{}"};
  const char* bad_metadata[] = {"\"user1\"", "[1]", "42", "true", "[]",
                                "{\"user1\":{\"a\":\"b\"}}",
                                "{\"user1\":[1]}", "{\"user1\":true}"};
  std::size_t i = 0;
  for (auto& cmd : vendor_commands) {
    std::string p = cmd.path;
    std::string n = p.substr(5); // without "/api/"
    std::replace(n.begin(), n.end(), '/', '_');
    std::string who = sel(cmd.kind, cmd.value);
    std::string value = std::string("\"Value\":\"") + cmd.value + "\"";
    out.push_back(post(n + "_kind_not_a_string", p,
                       std::string("{\"AgentIdentifier\":")
                         + bad_kinds[i % 4] + "," + value + "}",
                       invalid_kind));
    out.push_back(post(n + "_value_not_string_or_number", p,
                       std::string("{\"AgentIdentifier\":\"") + cmd.kind
                         + "\",\"Value\":" + bad_values[i % 4] + "}",
                       invalid_param));
    out.push_back(post(n + "_unknown_kind_" + std::to_string(i), p,
                       std::string("{\"AgentIdentifier\":\"")
                         + unknown_kinds[i] + "\"," + value + "}",
                       invalid_kind));
    // JSON that is not an object where the command wants one.
    out.push_back(post(n + "_array_body", p, "[" + who + "]"));
    out.push_back(post(n + "_string_body", p,
                       "\"{\\\"AgentIdentifier\\\":\\\"Id\\\"}\""));
    out.push_back(post(n + "_number_body", p, "2"));
    switch (cmd.type) {
      case vendor_command::record:
        out.push_back(post(n + "_call_identifier_wrong_type", p,
                           sel(cmd.kind, cmd.value,
                               std::string(",\"CallIdentifier\":")
                                 + bad_call_ids[i % 5]),
                           invalid_param));
        out.push_back(post(n + "_metadata_wrong_type", p,
                           sel(cmd.kind, cmd.value,
                               std::string(",\"CallMetadata\":")
                                 + bad_metadata[i % 8]),
                           invalid_metadata));
        break;
      case vendor_command::screen:
        out.push_back(post(n + "_metadata_wrong_type", p,
                           sel(cmd.kind, cmd.value,
                               std::string(",\"CallMetadata\":")
                                 + bad_metadata[i % 8]),
                           invalid_metadata));
        out.push_back(post(n + "_metadata_value_wrong_type", p,
                           sel(cmd.kind, cmd.value,
                               std::string(",\"CallMetadata\":")
                                 + bad_metadata[5 + i % 3]),
                           invalid_metadata));
        break;
      case vendor_command::blackout_start:
        out.push_back(post(n + "_time_is_a_number", p,
                           sel(cmd.kind, cmd.value,
                               ",\"BlackoutStartTime\":1764496530"),
                           invalid_time));
        out.push_back(post(n + "_time_offset_is_a_bool", p,
                           sel(cmd.kind, cmd.value, ",\"TimeOffset\":true"),
                           invalid_time));
        break;
      case vendor_command::blackout_stop:
        out.push_back(post(n + "_time_is_an_array", p,
                           sel(cmd.kind, cmd.value,
                               ",\"BlackoutStopTime\":"
                               "[\"2026-11-30T10:15:30Z\"]"),
                           invalid_time));
        out.push_back(post(n + "_time_offset_is_an_object", p,
                           sel(cmd.kind, cmd.value,
                               ",\"TimeOffset\":{\"s\":1}"),
                           invalid_time));
        break;
    }
    ++i;
  }
  // The GET command, parameters in a body.
  out.push_back(call("Agent_kind_not_a_string", "GET", "/api/Agent",
                     R"({"AgentIdentifier":7,"Value":"2"})", invalid_kind));
  out.push_back(call("Agent_value_is_an_object", "GET", "/api/Agent",
                     R"({"AgentIdentifier":"Id","Value":{"a":2}})",
                     invalid_param));
  // JSON of the wrong kind is a body of the wrong type (400), not one
  // without parameters (404).
  out.push_back(call("Agent_array_body", "GET", "/api/Agent", "[" + a2() + "]",
                     invalid_json));
  out.push_back(get("Agent_unknown_kind_in_query",
                    "/api/Agent?agentIdentifier=Email&value=2",
                    invalid_kind));
  out.push_back(get("Agent_kind_without_value_in_query",
                    "/api/Agent?agentIdentifier&value=2", invalid_kind));
  // Metadata over the contract's limits.
  out.push_back(post("metadata_empty_key", "/api/Record/UpdateForAgent",
                     a2(R"(,"CallMetadata":{"":"x"})"), invalid_metadata));
  out.push_back(post("metadata_key_65_bytes", "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"" + std::string(65, 'k')
                        + "\":\"x\"}"),
                     invalid_metadata));
  out.push_back(post("metadata_value_4097_bytes",
                     "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"user1\":\""
                        + std::string(4097, 'v') + "\"}"),
                     invalid_metadata));
  std::string many;
  for (int k = 0; k < 65; ++k)
    many += (k ? ",\"k" : "\"k") + std::to_string(k) + "\":\"v\"";
  out.push_back(post("metadata_65_keys", "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{" + many + "}"),
                     invalid_metadata));
  out.push_back(post("call_identifier_257_bytes", "/api/Record/StopForAgent",
                     a2(",\"CallIdentifier\":\"" + std::string(257, 'c')
                        + "\""),
                     invalid_param));
}

void add_truncated(std::vector<hostile_case>& out) {
  // A valid, state-changing command body cut at many points: every prefix
  // is invalid JSON.
  const std::string update =
    a2(R"(,"CallIdentifier":"c-1","CallMetadata":{"user1":"a","user2":12.5})");
  for (std::size_t cut = 1; cut < update.size(); cut += 4)
    out.push_back(post("truncated_update_at_" + std::to_string(cut),
                       "/api/Record/UpdateForAgent", update.substr(0, cut),
                       invalid_json));
  out.push_back(post("truncated_update_before_last_brace",
                     "/api/Record/UpdateForAgent",
                     update.substr(0, update.size() - 1), invalid_json));
  const std::string ended = a2(R"(,"Type":"CallEnded","CallId":"c-1")");
  for (std::size_t cut = 3; cut < ended.size(); cut += 11)
    out.push_back(post("truncated_cti_at_" + std::to_string(cut),
                       "/api/Cti/Events", ended.substr(0, cut),
                       invalid_json));
  out.push_back(post("truncated_inside_utf8_sequence",
                     "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"user1\":\"\xe2\x82"),
                     invalid_json));
  out.push_back(post("truncated_inside_unicode_escape",
                     "/api/Record/UpdateForAgent",
                     a2(R"(,"CallMetadata":{"user1":"\u00"}})"),
                     invalid_json));
  out.push_back(post("truncated_array_of_events", "/api/Cti/Events",
                     "[" + ended + "," + ended.substr(0, 20), invalid_json));
}

void add_nesting(std::vector<hostile_case>& out) {
  const std::string start = "/api/Record/StartForAgent";
  // Under the 64 KiB body limit: parsed (iteratively) and refused.
  out.push_back(post("nesting_60k_arrays", start, std::string(60'000, '['),
                     invalid_json));
  out.push_back(post("nesting_13k_objects", start, times("{\"a\":", 13'000),
                     invalid_json));
  out.push_back(post("nesting_10k_mixed", start, times("[{\"a\":", 10'000),
                     invalid_json));
  out.push_back(post("nesting_30k_balanced", start,
                     std::string(30'000, '[') + std::string(30'000, ']'),
                     invalid_json));
  out.push_back(post("nesting_65_in_metadata", "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":" + times("{\"a\":", 65) + "\"x\""
                        + std::string(65, '}')),
                     invalid_json));
  out.push_back(post("nesting_60k_cti", "/api/Cti/Events",
                     std::string(60'000, '['), invalid_json));
  // 100k levels exceed the API's body limit.
  out.push_back(post("nesting_100k_arrays", start,
                     std::string(100'000, '['), too_large));
  out.push_back(post("nesting_100k_objects", start,
                     times("{\"a\":", 100'000), too_large));
  // The admin listener takes bodies up to 256 MiB: 100k and 1M levels
  // reach the parser.
  out.push_back(admin(call("admin_nesting_100k_arrays", "PUT",
                           "/admin/agents", std::string(100'000, '['),
                           invalid_json)));
  out.push_back(admin(call("admin_nesting_100k_objects", "PUT",
                           "/admin/agents/5", times("{\"a\":", 100'000),
                           invalid_json)));
  out.push_back(admin(call("admin_nesting_1m_arrays", "PUT", "/admin/agents",
                           std::string(1'000'000, '['), invalid_json)));
}

void add_numbers(std::vector<hostile_case>& out) {
  const std::string start = "/api/Record/StartForAgent";
  const std::string digits400(400, '9');
  const std::string bstart = "/api/Blackout/StartForAgent";
  auto value = [](std::string v) {
    return "{\"AgentIdentifier\":\"Id\",\"Value\":" + v + "}";
  };
  out.push_back(post("value_1e999999", start, value("1e999999")));
  out.push_back(post("value_minus_1e999999", start, value("-1e999999")));
  out.push_back(post("value_1e-999999", start, value("1e-999999")));
  out.push_back(post("value_400_digits", start, value(digits400)));
  out.push_back(post("value_400_digit_string", start,
                     value("\"" + digits400 + "\"")));
  out.push_back(post("value_int64_overflow_string", start,
                     value("\"9223372036854775808\"")));
  out.push_back(post("value_minus_0", start, value("-0")));
  out.push_back(post("value_0x10", start, value("0x10"), invalid_json));
  out.push_back(post("value_leading_zero_number", start, value("02"),
                     invalid_json));
  out.push_back(post("value_plus_number", start, value("+2"), invalid_json));
  out.push_back(post("value_bare_fraction", start, value(".2"),
                     invalid_json));
  auto offset = [&](std::string name, std::string v, expect e) {
    out.push_back(post("time_offset_" + std::move(name), bstart,
                       a2(",\"TimeOffset\":" + v), e));
  };
  offset("1e999999", "1e999999", any_4xx);
  offset("400_digits", digits400, any_4xx);
  offset("minus_400_digits", "-" + digits400, any_4xx);
  offset("0x10", "0x10", invalid_json);
  offset("0x10_string", "\"0x10\"", invalid_time);
  offset("int64_max", "9223372036854775807", invalid_time);
  offset("int64_min", "-9223372036854775808", invalid_time);
  offset("172801", "172801", invalid_time);
  offset("minus_172801", "-172801", invalid_time);
  offset("fraction", "1.5", invalid_time);
  offset("trailing_garbage_string", "\"12abc\"", invalid_time);
  offset("empty_string", "\"\"", invalid_time);
  offset("blank_string", "\"   \"", invalid_time);
  offset("double_minus", "\"--5\"", invalid_time);
  offset("array", "[5]", invalid_time);
  // AgentIDs on the admin listener.
  auto bulk = [&](std::string name, std::string id, expect e) {
    out.push_back(admin(call("admin_agent_id_" + std::move(name), "PUT",
                             "/admin/agents",
                             "[{\"AgentID\":" + id
                               + ",\"AgentPhone\":\"6001\"}]",
                             e)));
  };
  bulk("1e999999", "1e999999", any_4xx);
  bulk("20_digits", "99999999999999999999", invalid_param);
  bulk("minus_0", "-0", invalid_param);
  bulk("0x10", "0x10", invalid_json);
  bulk("negative", "-5", invalid_param);
  bulk("fraction", "5.5", invalid_param);
  bulk("infinity", "Infinity", invalid_json);
  out.push_back(admin(call("admin_device_id_400_digits", "PUT",
                           "/admin/agents/5",
                           "{\"DeviceId\":" + digits400 + "}")));
  out.push_back(admin(call("admin_business_unit_1e999999", "PUT",
                           "/admin/agents/5", "{\"BusinessUnit\":1e999999}")));
}

void add_nan(std::vector<hostile_case>& out) {
  const std::string start = "/api/Record/StartForAgent";
  for (const char* v : {"NaN", "Infinity", "-Infinity", "nan", "inf"})
    out.push_back(post(std::string("value_") + v, start,
                       std::string(R"({"AgentIdentifier":"Id","Value":)") + v
                         + "}",
                       invalid_json));
  out.push_back(post("time_offset_NaN", "/api/Blackout/StartForAgent",
                     a2(",\"TimeOffset\":NaN"), invalid_json));
  out.push_back(post("time_offset_minus_Infinity",
                     "/api/Blackout/StartForAgent",
                     a2(",\"TimeOffset\":-Infinity"), invalid_json));
  out.push_back(post("time_offset_NaN_string", "/api/Blackout/StartForAgent",
                     a2(",\"TimeOffset\":\"NaN\""), invalid_time));
  out.push_back(post("metadata_value_NaN", "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"user1\":NaN}"), invalid_json));
}

void add_duplicates(std::vector<hostile_case>& out) {
  const std::string stop = "/api/Record/StopForAgent";
  out.push_back(post("duplicate_value", stop,
                     R"({"AgentIdentifier":"Id","Value":"2","Value":"3"})",
                     invalid_json));
  out.push_back(post("duplicate_value_second_null", stop,
                     R"({"AgentIdentifier":"Id","Value":"2","Value":null})",
                     invalid_json));
  out.push_back(post("duplicate_kind", stop,
                     R"({"AgentIdentifier":"Id","AgentIdentifier":"Phone",)"
                     R"("Value":"2"})",
                     invalid_json));
  out.push_back(post("duplicate_value_case_only", stop,
                     R"({"AgentIdentifier":"Id","Value":"2","value":"3"})",
                     invalid_json));
  out.push_back(post("duplicate_kind_case_only", stop,
                     R"({"AgentIdentifier":"Id","AGENTIDENTIFIER":"Phone",)"
                     R"("Value":"2"})",
                     invalid_json));
  out.push_back(post("duplicate_time_offset_case_only",
                     "/api/Blackout/StartForAgent",
                     a2(R"(,"TimeOffset":5,"timeoffset":-5)"), invalid_json));
  out.push_back(post("duplicate_metadata_key", "/api/Record/UpdateForAgent",
                     a2(R"(,"CallMetadata":{"user1":"a","user1":"b"})"),
                     invalid_json));
  out.push_back(post("duplicate_cti_call_id", "/api/Cti/Events",
                     a2(R"(,"Type":"CallEnded","CallId":"c-1","CallId":"c-2")"),
                     invalid_json));
  out.push_back(post("duplicate_cti_type_case_only", "/api/Cti/Events",
                     a2(R"(,"Type":"CallEnded","TYPE":"CallHeld",)"
                        R"("CallId":"c-1")"),
                     invalid_json));
  out.push_back(post("duplicate_case_only_in_cti_array", "/api/Cti/Events",
                     "[" + a2(R"(,"Type":"CallEnded","callid":"c-1",)"
                              R"("CallId":"c-1")")
                       + "]",
                     invalid_json));
  out.push_back(admin(call("admin_duplicate_phone_case_only", "PUT",
                           "/admin/agents/5",
                           R"({"AgentPhone":"6001","agentphone":"6002"})",
                           invalid_json)));
  // Typographic quotes are read as '"' only to rescue invalid JSON; the
  // rescued body follows the same rules.
  out.push_back(post("duplicate_via_typographic_quotes", stop,
                     "{\"AgentIdentifier\":\"Id\",\"Value\":\"2\","
                     "\xe2\x80\x9cValue\xe2\x80\x9d:\"3\"}",
                     invalid_json));
  // Bulk items are bodies' objects too: which AgentID is meant?
  out.push_back(admin(call("admin_bulk_duplicate_id_case_only", "PUT",
                           "/admin/agents",
                           R"([{"AgentID":5,"AGENTID":6}])")));
  // The same rules for a form body (docs/behaviour.md: exact duplicate
  // keys are a 400) and for the query string.
  auto form = post("form_duplicate_value", "/api/Record/StartForAgent",
                   "AgentIdentifier=Id&Value=2&Value=3");
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  out.push_back(form);
  out.push_back(get("query_duplicate_value", agent2_query + "&value=3"));
  out.push_back(get("query_duplicate_value_case_only",
                    agent2_query + "&VALUE=3"));
}

void add_nul(std::vector<hostile_case>& out) {
  const std::string start = "/api/Record/StartForAgent";
  out.push_back(post("nul_raw_in_value", start,
                     "{\"AgentIdentifier\":\"Id\",\"Value\":\"2\0\"}"s,
                     invalid_json));
  out.push_back(post("nul_raw_in_key", start,
                     "{\"Agent\0Identifier\":\"Id\",\"Value\":\"2\"}"s,
                     invalid_json));
  out.push_back(post("nul_raw_before_json", start, "\0"s + a2(),
                     invalid_json));
  out.push_back(post("nul_raw_between_members", start,
                     "{\"AgentIdentifier\":\"Id\",\0\"Value\":\"2\"}"s,
                     invalid_json));
  out.push_back(post("nul_raw_after_json", start, a2() + "\0"s,
                     invalid_json));
  out.push_back(post("nul_raw_after_json_then_garbage", start,
                     a2() + "\0garbage"s, invalid_json));
  out.push_back(post("nul_escaped_in_value", start,
                     R"({"AgentIdentifier":"Id","Value":"2\u0000"})",
                     agent_not_found));
  out.push_back(post("nul_escaped_in_key", start,
                     R"({"AgentIdentifier":"Id","Value\u0000":"2"})",
                     missing));
  out.push_back(post("nul_escaped_in_kind", start,
                     R"({"AgentIdentifier":"\u0000","Value":"2"})",
                     invalid_kind));
  out.push_back(post("nul_escaped_in_cti_type", "/api/Cti/Events",
                     a2(R"(,"Type":"CallEnded\u0000","CallId":"c-1")"),
                     invalid_param));
  out.push_back(post("nul_escaped_in_blackout_time",
                     "/api/Blackout/StartForAgent",
                     a2(R"(,"BlackoutStartTime":"2026-11-30T10:15:30Z\u0000")"),
                     invalid_time));
  out.push_back(get("nul_escaped_in_query_value", agent2_query + "%00",
                    agent_not_found));
  out.push_back(get("nul_escaped_in_query_kind",
                    "/api/Agent?agentIdentifier=Id%00&value=2",
                    invalid_kind));
  out.push_back(get("nul_escaped_in_path", "/api/Agent%00?agentIdentifier=Id",
                    no_route));
  out.push_back(get("nul_escaped_in_recording_id", "/api/Recordings/%00",
                    {404, "RecordingNotFound"}));
  auto form = post("nul_escaped_in_form_body", start,
                   "AgentIdentifier=Id&Value=2%00", agent_not_found);
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  out.push_back(form);
}

void add_utf8(std::vector<hostile_case>& out) {
  const std::string start = "/api/Record/StartForAgent";
  const std::pair<const char*, std::string> bad[] = {
    {"overlong_2_byte", "\xc0\xaf"},
    {"overlong_3_byte", "\xe0\x80\xaf"},
    {"overlong_4_byte", "\xf0\x80\x80\xaf"},
    {"lone_continuation", "\x80"},
    {"surrogate_high", "\xed\xa0\x80"},
    {"surrogate_low", "\xed\xbf\xbf"},
    {"five_byte", "\xf8\x88\x80\x80\x80"},
    {"six_byte", "\xfc\x84\x80\x80\x80\x80"},
    {"byte_ff", "\xff"},
    {"beyond_10ffff", "\xf4\x90\x80\x80"},
    {"truncated_sequence", "\xe2\x82"},
  };
  for (auto& [n, b] : bad)
    out.push_back(post(std::string("utf8_") + n + "_in_value", start,
                       sel("Username", "jdoe" + b), invalid_json));
  int n = 0;
  for (const char* esc : {"\\udc00", "\\ud800", "\\ud800\\u0041",
                          "\\udbff\\udbff"})
    out.push_back(post("utf8_escaped_surrogate_" + std::to_string(++n),
                       start, sel("Username", std::string("jdoe") + esc),
                       invalid_json));
  out.push_back(post("utf8_invalid_in_key", start,
                     "{\"AgentIdentifier\":\"Id\",\"Val\xc0\xaf\":\"2\"}",
                     invalid_json));
  out.push_back(post("utf8_escaped_surrogate_in_key", start,
                     R"({"AgentIdentifier":"Id","\udc00":"2"})",
                     invalid_json));
  out.push_back(post("utf8_invalid_in_metadata", "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"user1\":\"\xed\xa0\x80\"}"),
                     invalid_json));
  out.push_back(post("utf8_invalid_in_cti_ani", "/api/Cti/Events",
                     a2(",\"Type\":\"CallEnded\",\"CallId\":\"c-1\","
                        "\"Ani\":\"\xff\""),
                     invalid_json));
  out.push_back(post("utf16_le_body", start,
                     "\xff\xfe{\0\"\0}\0"s));
  out.push_back(admin(call("admin_utf8_invalid_username", "PUT",
                           "/admin/agents/5",
                           "{\"Username\":\"\xc0\xaf\"}", invalid_json)));
  // Query and path.
  for (const char* q : {"%C0%AF", "%ED%A0%80", "%F8%88%80%80%80", "%FF",
                        "%E2%82"})
    out.push_back(get(std::string("utf8_query_value_") + (q + 1),
                      std::string("/api/Agent?agentIdentifier=Username"
                                  "&value=")
                        + q,
                      invalid_param));
  out.push_back(get("utf8_query_raw_bytes",
                    "/api/Agent?agentIdentifier=Username&value=\xc0\xaf",
                    invalid_param));
  out.push_back(get("utf8_query_key", "/api/Agent?agentIdentifier=Id&v%FF=2",
                    invalid_param));
  out.push_back(get("utf8_path_escaped", "/api/Agent%C0%AF", no_route));
  // The error message names what was sent: it must stay valid UTF-8 (a
  // JSON text is UTF-8), whether the server echoes invalid bytes from the
  // path or cuts a long value in the middle of a character.
  out.push_back(get("utf8_path_raw_bytes", "/api/Agent\xc0\xaf", no_route));
  out.push_back(admin(get("utf8_admin_path_raw_byte", "/admin/agents/\xff",
                          invalid_param)));
  const std::string e40 = times("\xc3\xa9", 40); // "é" x 40: 80 bytes
  out.push_back(post("utf8_long_kind_echoed", start, sel(e40, "2"),
                     invalid_kind));
  out.push_back(post("utf8_long_value_echoed", start, sel("Username", e40),
                     agent_not_found));
  out.push_back(post("utf8_long_metadata_key_echoed",
                     "/api/Record/UpdateForAgent",
                     a2(",\"CallMetadata\":{\"" + e40 + "\":\"x\"}"),
                     invalid_metadata));
  out.push_back(post("utf8_long_time_echoed", "/api/Blackout/StartForAgent",
                     a2(",\"BlackoutStartTime\":\"" + e40 + "\""),
                     invalid_time));
  out.push_back(get("utf8_long_path_echoed",
                    "/" + std::string(198, 'a') + "\xc3\xa9", no_route));
}

void add_cti(std::vector<hostile_case>& out) {
  const std::string ev = "/api/Cti/Events";
  // CallEnded for the call agent 2 is on: accepting any of these would
  // end the call and stop its recordings.
  auto bad = [&](std::string name, std::string more, expect e) {
    out.push_back(post("cti_" + std::move(name), ev, a2(more), e));
  };
  bad("type_missing", R"(,"CallId":"c-1")", missing);
  bad("type_unknown", R"(,"Type":"CallDropped","CallId":"c-1")",
      invalid_param);
  bad("type_trailing_space", R"(,"Type":"CallEnded ","CallId":"c-1")",
      invalid_param);
  bad("type_empty", R"(,"Type":"","CallId":"c-1")", invalid_param);
  bad("type_number", R"(,"Type":4,"CallId":"c-1")", invalid_param);
  bad("type_array", R"(,"Type":["CallEnded"],"CallId":"c-1")",
      invalid_param);
  bad("call_id_missing", R"(,"Type":"CallEnded")", missing);
  bad("call_id_empty", R"(,"Type":"CallEnded","CallId":"")", missing);
  bad("call_id_object", R"(,"Type":"CallEnded","CallId":{"id":"c-1"})",
      invalid_param);
  bad("call_id_array", R"(,"Type":"CallEnded","CallId":["c-1"])",
      invalid_param);
  bad("call_id_bool", R"(,"Type":"CallEnded","CallId":true)", invalid_param);
  bad("call_id_257_bytes",
      ",\"Type\":\"CallStarted\",\"CallId\":\"" + std::string(257, 'c')
        + "\"",
      invalid_param);
  bad("call_identifier_object",
      R"(,"Type":"CallEnded","CallId":"c-1","CallIdentifier":{})",
      invalid_param);
  bad("call_identifier_257_bytes",
      ",\"Type\":\"CallEnded\",\"CallId\":\"c-1\",\"CallIdentifier\":\""
        + std::string(257, 'i') + "\"",
      invalid_param);
  bad("direction_array", R"(,"Type":"CallEnded","CallId":"c-1","Direction":[])",
      invalid_param);
  bad("ani_bool", R"(,"Type":"CallEnded","CallId":"c-1","Ani":true)",
      invalid_param);
  bad("dnis_object", R"(,"Type":"CallEnded","CallId":"c-1","Dnis":{})",
      invalid_param);
  bad("ani_257_bytes",
      ",\"Type\":\"CallEnded\",\"CallId\":\"c-1\",\"Ani\":\""
        + std::string(257, '5') + "\"",
      invalid_param);
  bad("time_garbage", R"(,"Type":"CallEnded","CallId":"c-1","Time":"soon")",
      invalid_time);
  bad("time_number",
      R"(,"Type":"CallEnded","CallId":"c-1","Time":1764496530)",
      invalid_time);
  bad("time_february_30",
      R"(,"Type":"CallEnded","CallId":"c-1","Time":"2026-02-30T00:00:00Z")",
      invalid_time);
  out.push_back(post("cti_kind_unknown", ev,
                     sel("Extension", "2",
                         R"(,"Type":"CallEnded","CallId":"c-1")"),
                     invalid_kind));
  out.push_back(post("cti_value_missing", ev,
                     R"({"AgentIdentifier":"Id","Type":"CallEnded",)"
                     R"("CallId":"c-1"})",
                     missing));
  out.push_back(post("cti_value_object", ev,
                     R"({"AgentIdentifier":"Id","Value":{},)"
                     R"("Type":"CallEnded","CallId":"c-1"})",
                     invalid_param));
  // Arrays: validated as a whole before any event is applied.
  std::string events = "[";
  for (int k = 0; k < 300; ++k)
    events += a2(",\"Type\":\"CallStarted\",\"CallId\":\"x-"
                 + std::to_string(k) + "\"")
              + ",";
  out.push_back(post("cti_300_good_events_then_a_bad_one", ev,
                     events + a2(R"(,"Type":"Bogus","CallId":"c-1")") + "]",
                     invalid_param));
  out.push_back(post("cti_empty_array", ev, "[]", invalid_param));
  out.push_back(post("cti_10001_events", ev,
                     "[" + times("{},", 10'000) + "{}]", invalid_param));
  out.push_back(post("cti_array_of_arrays", ev,
                     "[[" + a2(R"(,"Type":"CallEnded","CallId":"c-1")") + "]]",
                     invalid_param));
  out.push_back(post("cti_array_of_strings", ev, R"(["CallEnded","c-1"])",
                     invalid_param));
  out.push_back(post("cti_string_body", ev, R"("CallEnded")"));
  out.push_back(post("cti_number_body", ev, "2"));
  out.push_back(post("cti_null_body", ev, "null"));
}

void add_blackout_times(std::vector<hostile_case>& out) {
  // Agent 2 has no blackout (a start would begin one), agent 3 has one
  // running (a stop would end it).
  const char* garbage[] = {
    "",
    " ",
    "soon",
    "NaN",
    "2026-02-30T00:00:00Z",
    "2026-11-30T24:00:00Z",
    "2026-11-30T23:59:60Z",
    "2026-13-01T00:00:00Z",
    "0000-00-00T00:00:00Z",
    "2026-11-30T10:15:30+25:00",
    "2026-11-30T10:15:30+05:60",
    "2026-11-30T10:15:30Z x",
    "2026-11-30T10:15:30.Z",
    "2026-11-30T10:15:30,5Z",
    "+002026-11-30T10:15:30Z",
    "10:15:30",
    "13/45/2026 10:15:30 AM -05:00",
    "11/30/2026 13:15:30 PM -05:00",
    "1/1/1 1:1:1 AM +00:00",
    "2026-11-30T10:15:30\\t-05:00",
  };
  std::size_t i = 0;
  for (const char* t : garbage) {
    bool stop = i % 2 == 1;
    std::string field = stop ? "BlackoutStopTime" : "BlackoutStartTime";
    out.push_back(post("blackout_time_garbage_" + std::to_string(i),
                       stop ? "/api/Blackout/StopForAgent"
                            : "/api/Blackout/StartForAgent",
                       sel("Id", stop ? "3" : "2",
                           ",\"" + field + "\":\"" + t + "\""),
                       invalid_time));
    ++i;
  }
  out.push_back(post("blackout_time_10k_digits", "/api/Blackout/StopForAgent",
                     sel("Id", "3",
                         ",\"BlackoutStopTime\":\"" + std::string(10'000, '1')
                           + "\""),
                     invalid_time));
  out.push_back(post("blackout_stop_before_start", "/api/Blackout/StopForAgent",
                     sel("Id", "3",
                         R"(,"BlackoutStopTime":"2001-01-01T00:00:00Z")"),
                     invalid_time));
  out.push_back(post("blackout_time_object", "/api/Blackout/StartForAgent",
                     a2(R"(,"BlackoutStartTime":{"t":"2026-11-30"})"),
                     invalid_time));
  out.push_back(post("blackout_time_bool", "/api/Blackout/StopForAgent",
                     sel("Id", "3", R"(,"BlackoutStopTime":false)"),
                     invalid_time));
  out.push_back(post("blackout_offset_in_query_garbage",
                     "/api/Blackout/StartForAgent?TimeOffset=12abc", a2(),
                     invalid_time));
}

void add_queries(std::vector<hostile_case>& out) {
  out.push_back(get("query_percent_at_end", agent2_query + "%", invalid_param));
  out.push_back(get("query_percent_one_digit", agent2_query + "%4",
                    invalid_param));
  out.push_back(get("query_percent_zz", "/api/Agent?agentIdentifier=Id&%zz=2",
                    invalid_param));
  out.push_back(get("query_7k_key",
                    "/api/Agent?" + std::string(7'000, 'k')
                      + "=1&agentIdentifier=Id&value=99",
                    agent_not_found));
  out.push_back(get("query_7k_value",
                    "/api/Agent?agentIdentifier=Username&value="
                      + std::string(7'000, 'v'),
                    agent_not_found));
  std::string params;
  for (int k = 0; k < 1'000; ++k)
    params += "p" + std::to_string(k) + "=&";
  out.push_back(get("query_1000_distinct_params",
                    "/api/Agent?" + params + "agentIdentifier=Id&value=99",
                    agent_not_found));
  out.push_back(get("query_only_separators", "/api/Agent?&&&=&=&&",
                    missing));
  out.push_back(get("query_value_int64_overflow",
                    "/api/Agent?agentIdentifier=Id&value=99999999999999999999",
                    agent_not_found));
  out.push_back(get("query_value_negative",
                    "/api/Agent?agentIdentifier=Id&value=-2",
                    agent_not_found));
  const std::string recs = "/api/Recordings?";
  for (const char* q :
       {"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=1e3",
        "limit=99999999999999999999", "agentId=0", "agentId=-1",
        "agentId=abc", "agentId=99999999999999999999", "from=yesterday",
        "to=2026-02-30T00:00:00Z", "cursor=zz", "cursor=abc",
        "cursor=00"})
    out.push_back(get(std::string("recordings_") + q, recs + q,
                      std::string(q).rfind("from", 0) == 0
                          || std::string(q).rfind("to", 0) == 0
                        ? invalid_time
                        : invalid_param));
  out.push_back(get("recordings_cursor_402_hex",
                    recs + "cursor=" + std::string(402, 'a'), invalid_param));
  out.push_back(get("recording_id_not_a_uuid", "/api/Recordings/not-a-uuid",
                    {404, "RecordingNotFound"}));
  out.push_back(get("recording_id_traversal",
                    "/api/Recordings/..%2f..%2fadmin",
                    {404, "RecordingNotFound"}));
  out.push_back(get("recording_id_7k", "/api/Recordings/"
                                         + std::string(7'000, 'f'),
                    {404, "RecordingNotFound"}));
}

void add_methods_and_gets(std::vector<hostile_case>& out) {
  out.push_back(call("method_trace", "TRACE", "/api/Agent/GetAll", {},
                     no_method));
  out.push_back(call("method_trace_root", "TRACE", "/", {}, no_route));
  out.push_back(call("method_connect", "CONNECT", "127.0.0.1:80", {},
                     no_route));
  out.push_back(call("method_options_star", "OPTIONS", "*", {}, no_route));
  out.push_back(call("method_delete_command", "DELETE",
                     "/api/Record/StopForAgent", a2(), no_method));
  out.push_back(call("method_put_command", "PUT", "/api/Record/StopForAgent",
                     a2(), no_method));
  out.push_back(call("method_patch_command", "PATCH",
                     "/api/Blackout/StartForAgent", a2(), no_method));
  out.push_back(call("method_get_command", "GET", "/api/Record/StopForAgent",
                     a2(), no_method));
  out.push_back(get("route_unknown", "/api/Record/DeleteEverything",
                    no_route));
  out.push_back(get("route_dot_segments", "/api/../admin/agents/2",
                    no_route));
  out.push_back(get("route_double_slash", "//api//Agent/GetAll", no_route));
  out.push_back(get("route_absolute_form",
                    "http://evil.example/api/Agent/GetAll/x", no_route));
  // Bodies on GET: read like any other body.
  out.push_back(call("get_invalid_json_body", "GET", agent2_query, "{",
                     invalid_json));
  out.push_back(call("get_body_overrides_query", "GET", agent2_query,
                     sel("Id", "99"), agent_not_found));
  out.push_back(call("get_all_deep_body", "GET", "/api/Agent/GetAll",
                     std::string(60'000, '['), invalid_json));
  out.push_back(call("get_all_100k_body", "GET", "/api/Agent/GetAll",
                     std::string(100'000, ' '), too_large));
  out.push_back(call("get_recordings_bad_body", "GET", "/api/Recordings",
                     R"({"limit":0})", invalid_param));
  out.push_back(call("delete_body_nan", "DELETE", "/admin/agents/1",
                     "NaN", invalid_json));
  out.back().admin = true;
  // Bodies the contract does not accept.
  auto form = post("form_body_bad_escape", "/api/Record/StopForAgent",
                   "AgentIdentifier=Id&Value=2%zz", invalid_param);
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  out.push_back(form);
  form = post("form_body_invalid_utf8", "/api/Record/StopForAgent",
              "AgentIdentifier=Id&Value=2%C0%AF", invalid_param);
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  out.push_back(form);
  std::string keys;
  for (int k = 0; k < 7'000; ++k)
    keys += "k" + std::to_string(k) + "=&";
  form = post("form_body_7000_keys", "/api/Record/StopForAgent", keys,
              missing);
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  out.push_back(form);
  out.push_back(post("body_just_whitespace_and_garbage",
                     "/api/Record/StopForAgent", " \r\n\t garbage",
                     invalid_json));
  out.push_back(post("body_two_documents", "/api/Record/StopForAgent",
                     a2() + a2(), invalid_json));
  out.push_back(post("body_trailing_comma", "/api/Record/StopForAgent",
                     R"({"AgentIdentifier":"Id","Value":"2",})",
                     invalid_json));
  out.push_back(post("body_single_quotes", "/api/Record/StopForAgent",
                     "{'AgentIdentifier':'Id','Value':'2'}", invalid_json));
  out.push_back(post("body_comment", "/api/Record/StopForAgent",
                     "{/*x*/\"AgentIdentifier\":\"Id\",\"Value\":\"2\"}",
                     invalid_json));
  out.push_back(post("body_unquoted_keys", "/api/Record/StopForAgent",
                     "{AgentIdentifier:\"Id\",Value:\"2\"}", invalid_json));
  out.push_back(post("body_control_char_in_string",
                     "/api/Record/StopForAgent",
                     "{\"AgentIdentifier\":\"Id\",\"Value\":\"2\x01\"}",
                     invalid_json));
  out.push_back(post("body_bad_escape", "/api/Record/StopForAgent",
                     R"({"AgentIdentifier":"Id","Value":"\x32"})",
                     invalid_json));
  out.push_back(post("body_over_64k", "/api/Record/StopForAgent",
                     a2(",\"x\":\"" + std::string(70'000, 'x') + "\""),
                     too_large));
}

void add_admin(std::vector<hostile_case>& out) {
  for (const char* id : {"0", "-1", "99999999999999999999", "1%00", "1.0",
                         "0x1", "1e0", "%20"}) {
    std::string path = std::string("/admin/agents/") + id;
    out.push_back(admin(call(std::string("admin_get_agent_") + id, "GET",
                             path, {}, invalid_param)));
    out.push_back(admin(call(std::string("admin_delete_agent_") + id,
                             "DELETE", path, {}, invalid_param)));
    out.push_back(admin(call(std::string("admin_put_agent_") + id, "PUT",
                             path, R"({"AgentPhone":"6001"})",
                             invalid_param)));
  }
  out.push_back(admin(get("admin_actor_minus_1", "/admin/actors/-1",
                          invalid_param)));
  out.push_back(admin(get("admin_actor_nul", "/admin/actors/1%00",
                          invalid_param)));
  out.push_back(admin(get("admin_unknown_route", "/admin/shell", no_route)));
  out.push_back(admin(call("admin_post_agents", "POST", "/admin/agents",
                           "[]", no_method)));
  auto put5 = [&](std::string name, std::string body, expect e) {
    out.push_back(admin(call("admin_put_5_" + std::move(name), "PUT",
                             "/admin/agents/5", std::move(body), e)));
  };
  put5("array", R"([{"AgentPhone":"6001"}])", invalid_param);
  put5("string", R"("6001")", invalid_param);
  put5("number", "5", invalid_param);
  put5("id_mismatch", R"({"AgentID":6})", invalid_param);
  put5("unknown_field", R"({"AgentPhone":"6001","Shell":"rm -rf /"})",
       invalid_param);
  put5("phone_object", R"({"AgentPhone":{}})", invalid_param);
  put5("business_unit_text", R"({"BusinessUnit":"abc"})", invalid_param);
  put5("username_257_bytes",
       "{\"Username\":\"" + std::string(257, 'u') + "\"}", invalid_param);
  put5("phone_taken", R"({"AgentPhone":"805003"})", conflict);
  put5("truncated", R"({"AgentPhone":"60)", invalid_json);
  auto bulk = [&](std::string name, std::string body, expect e) {
    out.push_back(admin(call("admin_bulk_" + std::move(name), "PUT",
                             "/admin/agents", std::move(body), e)));
  };
  bulk("object", R"({"AgentID":5})", invalid_param);
  bulk("string", R"("[]")", invalid_param);
  bulk("number", "1", invalid_param);
  bulk("true", "true", invalid_param);
  bulk("null", "null", invalid_param);
  bulk("empty", "", invalid_param);
  bulk("array_of_numbers", "[1,2,3]", invalid_param);
  bulk("good_then_bad", R"([{"AgentID":5},"x"])", invalid_param);
  bulk("update_then_bad",
       R"([{"AgentID":1,"AgentPhone":"6009"},{"AgentID":"z"}])",
       invalid_param);
  bulk("200k_zeros", "[" + times("0,", 200'000) + "0]", invalid_param);
  bulk("30k_bad_ids", "[" + times(R"({"AgentID":"x"},)", 30'000) + "{}]",
       invalid_param);
  bulk("50k_new_agents_then_bad",
       [] {
         std::string s = "[";
         for (int k = 0; k < 50'000; ++k)
           s += "{\"AgentID\":" + std::to_string(1'000 + k) + "},";
         return s + "{\"AgentID\":0}]";
       }(),
       invalid_param);
}

std::vector<hostile_case> body_cases() {
  std::vector<hostile_case> out;
  add_wrong_types(out);
  add_truncated(out);
  add_nesting(out);
  add_numbers(out);
  add_nan(out);
  add_duplicates(out);
  add_nul(out);
  add_utf8(out);
  add_cti(out);
  add_blackout_times(out);
  add_queries(out);
  add_methods_and_gets(out);
  add_admin(out);
  return out;
}

// -- the catalogue: HTTP framing ----------------------------------------------

/// A request head for raw cases; `Connection: close` so that the server
/// ends the exchange as soon as it has answered.
std::string head(std::string_view request_line,
                 std::string_view more_headers = {}) {
  return std::string(request_line) + "\r\nHost: x\r\nConnection: close\r\n"
         + std::string(more_headers) + "\r\n";
}

const std::string start_line = "POST /api/Record/StartForAgent HTTP/1.1";
const std::string stop_line = "POST /api/Record/StopForAgent HTTP/1.1";
const std::string agent2_line = "GET " + agent2_query + " HTTP/1.1";

std::string chunked(std::string_view chunks) {
  return head(start_line, "Transfer-Encoding: chunked\r\n")
         + std::string(chunks);
}

std::vector<hostile_case> framing_cases() {
  std::vector<hostile_case> out;
  const std::string body = a2();
  const std::string len = std::to_string(body.size());
  // Header limits (16 KiB per name or value, 100 fields): closed.
  out.push_back(wire("header_value_16385",
                     head(agent2_line, "X-Big: " + std::string(16'385, 'a')
                                         + "\r\n")));
  out.push_back(wire("header_value_100k",
                     head(agent2_line, "Cookie: " + std::string(100'000, 'c')
                                         + "\r\n")));
  out.push_back(wire("header_name_17k",
                     head(agent2_line, std::string(17'000, 'N') + ": 1\r\n")));
  std::string fields;
  for (int k = 0; k < 101; ++k)
    fields += "X-F" + std::to_string(k) + ": 1\r\n";
  out.push_back(wire("headers_101", head(agent2_line, fields)));
  for (int k = 101; k < 5'000; ++k)
    fields += "X-F" + std::to_string(k) + ": 1\r\n";
  out.push_back(wire("headers_5000", head(agent2_line, fields)));
  out.push_back(wire("header_line_without_colon",
                     head(agent2_line, "NoColonHere\r\n")));
  out.push_back(wire("header_nul_in_name", head(agent2_line, "X-\0A: 1\r\n"s)));
  out.push_back(wire("header_nul_in_value",
                     head(agent2_line, "X-A: 1\0 2\r\n"s)));
  // Request line.
  out.push_back(wire("request_line_url_8193",
                     head("GET /api/Agent/GetAll?" + std::string(8'193, 'q')
                          + " HTTP/1.1")));
  out.push_back(wire("request_line_url_100k",
                     head("GET /" + std::string(100'000, 'u') + " HTTP/1.1")));
  std::string ten_k = "GET /api/Agent?";
  for (int k = 0; k < 10'000; ++k)
    ten_k += "a=1&";
  out.push_back(wire("query_10k_params", head(ten_k + " HTTP/1.1")));
  out.push_back(wire("request_line_method_10k",
                     head(std::string(10'000, 'A') + " / HTTP/1.1")));
  out.push_back(wire("request_line_unknown_method", head("FOO / HTTP/1.1")));
  out.push_back(wire("request_line_lowercase_get",
                     head("get /api/Agent/GetAll HTTP/1.1")));
  out.push_back(wire("request_line_version_junk",
                     head("GET /api/Agent/GetAll HTTP/1.1 junk")));
  out.push_back(wire("request_line_nul_in_path",
                     head("GET /api/Agent\0?agentIdentifier=Id&value=2 "
                          "HTTP/1.1"s)));
  out.push_back(wire("request_line_nul_in_query",
                     head("GET " + agent2_query + "\0 HTTP/1.1"s)));
  out.push_back(wire("request_line_bare_cr",
                     "GET /api/Agent/GetAll HTTP/1.1\rHost: x\r\r"));
  out.push_back(wire("http2_preface",
                     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                     "\x00\x00\x12\x04\x00\x00\x00\x00\x00"s));
  out.push_back(wire("tls_client_hello",
                     "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"s
                       + std::string(64, '\0')));
  out.push_back(wire("nul_bytes_only", std::string(100, '\0')));
  out.push_back(wire("http09_request", "GET /api/Agent/GetAll\r\n", 500ms));
  // RESTinio does not pass on the request's HTTP version: a request line
  // without one is read as HTTP/1.x, so answering it is legal here
  // (docs/hardening.md, known limits).
  auto v09 = wire("http09_request_with_blank_line",
                  "GET /api/Agent/GetAll\r\n\r\n");
  v09.legal_first = 1;
  out.push_back(v09);
  // HTTP/1.0 has no Host header (RFC 1945): a 200 is legal for a good
  // read; a bad body still gets its JSON error.
  auto v10 = wire("http10_without_host",
                  "GET /api/Agent/GetAll HTTP/1.0\r\n\r\n");
  v10.legal_first = 1;
  out.push_back(v10);
  auto v10_bad = wire("http10_without_host_bad_body",
                      "POST /api/Record/StopForAgent HTTP/1.0\r\n"
                      "Content-Length: 1\r\n\r\n{");
  v10_bad.want = invalid_json;
  out.push_back(v10_bad);
  // HTTP/1.1 with two Hosts is a 400 (RFC 9112, 3.2), so is HTTP/1.1
  // without Host when it keeps the connection open by default (only 1.1
  // does). With `Connection: close` or `keep-alive` it cannot be told from
  // HTTP/1.0 (RESTinio hides the version): legal here.
  out.push_back(wire("http11_without_host", agent2_line + "\r\n\r\n"));
  auto no_host = wire("http11_without_host_connection_close",
                      agent2_line + "\r\nConnection: close\r\n\r\n");
  no_host.legal_first = 1;
  out.push_back(no_host);
  out.push_back(wire("http11_two_hosts",
                     head(agent2_line, "Host: evil.example\r\n")));
  // Whitespace between a field name and its colon is a 400 (RFC 9112,
  // 5.1): a classic smuggling vector on framing headers.
  out.push_back(wire("content_length_space_before_colon",
                     head(start_line, "Content-Length : " + len + "\r\n")
                       + body));
  out.push_back(wire("transfer_encoding_space_before_colon",
                     head(start_line, "Transfer-Encoding : chunked\r\n"
                                     "Content-Length: " + len + "\r\n")
                       + body));
  // Content-Length and Transfer-Encoding. The smuggled request would
  // stop agent 2's recording if the server took the wrong framing.
  const std::string smuggled = head(stop_line, "Content-Length: " + len
                                                 + "\r\n")
                               + body;
  const std::string keep_alive_start = start_line + "\r\nHost: x\r\n";
  out.push_back(wire("cl_te_smuggling",
                     keep_alive_start
                       + "Content-Length: 5\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                       + smuggled));
  out.push_back(wire("te_cl_smuggling",
                     keep_alive_start + "Transfer-Encoding: chunked\r\n"
                       + "Content-Length: "
                       + std::to_string(5 + smuggled.size())
                       + "\r\n\r\n0\r\n\r\n" + smuggled));
  out.push_back(wire("two_different_content_lengths",
                     head(start_line, "Content-Length: " + len
                                       + "\r\nContent-Length: 2\r\n")
                       + body));
  // Equal duplicates may be merged (RFC 9110, 8.6): an empty object, a
  // 404 if the server does so.
  out.push_back(wire("two_equal_content_lengths",
                     head(start_line, "Content-Length: 2\r\n"
                                      "Content-Length: 2\r\n")
                       + "{}"));
  out.push_back(wire("content_length_list",
                     head(start_line, "Content-Length: 2, 2\r\n") + "{}"));
  out.push_back(wire("content_length_negative",
                     head(start_line, "Content-Length: -1\r\n") + body));
  out.push_back(wire("content_length_plus",
                     head(start_line, "Content-Length: +" + len + "\r\n")
                       + body));
  out.push_back(wire("content_length_hex",
                     head(start_line, "Content-Length: 0x10\r\n") + body));
  out.push_back(wire("content_length_text",
                     head(start_line, "Content-Length: abc\r\n") + body));
  out.push_back(wire("content_length_huge",
                     head(start_line,
                          "Content-Length: 99999999999999999999999\r\n")
                       + body));
  out.push_back(wire("content_length_2m_short_body",
                     head(start_line, "Content-Length: 2000000\r\n") + body));
  out.push_back(wire("content_length_2m_full_body",
                     head(start_line, "Content-Length: 2000000\r\n")
                       + std::string(2'000'000, ' ')));
  out.push_back(wire("content_length_longer_than_body",
                     head(start_line, "Content-Length: 500\r\n") + body,
                     300ms));
  out.push_back(wire("content_length_shorter_than_body",
                     head(start_line, "Content-Length: 10\r\n") + body));
  out.push_back(wire("expect_100_continue_huge",
                     head(start_line, "Expect: 100-continue\r\n"
                                     "Content-Length: 2000000\r\n")));
  // Chunked bodies with bad framing.
  out.push_back(wire("chunk_size_not_hex", chunked("zz\r\nabc\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_size_overflow",
                     chunked("FFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_size_negative", chunked("-5\r\nabc\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_size_leading_space",
                     chunked(" 2\r\n{}\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_size_too_small",
                     chunked("2\r\n" + body + "\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_size_too_large",
                     chunked("400\r\n" + body + "\r\n0\r\n\r\n"), 300ms));
  out.push_back(wire("chunk_size_2m_announced", chunked("200000\r\n"),
                     300ms));
  out.push_back(wire("chunk_extension_100k",
                     chunked("2;" + std::string(100'000, 'e')
                             + "\r\n{}\r\n0\r\n\r\n")));
  out.push_back(wire("chunk_missing_last_chunk",
                     chunked("2\r\n{}\r\n"), 300ms));
  out.push_back(wire("chunk_data_without_crlf",
                     chunked("2\r\n{}XX0\r\n\r\n")));
  out.push_back(wire("chunk_trailer_flood",
                     chunked("2\r\n{}\r\n0\r\n" + times("T: x\r\n", 300)
                             + "\r\n")));
  out.push_back(wire("transfer_encoding_chunked_then_gzip",
                     head(start_line, "Transfer-Encoding: chunked, gzip\r\n")
                       + "2\r\n{}\r\n0\r\n\r\n"));
  out.push_back(wire("transfer_encoding_unknown",
                     head(start_line, "Transfer-Encoding: xchunked\r\n"
                                     "Content-Length: " + len + "\r\n")
                       + body));
  out.push_back(wire("transfer_encoding_twice",
                     head(start_line, "Transfer-Encoding: chunked\r\n"
                                      "Transfer-Encoding: chunked\r\n")
                       + "2\r\n{}\r\n0\r\n\r\n"));
  // The admin listener parses the same way.
  auto on_admin = [&](hostile_case c) {
    c.admin = true;
    out.push_back(std::move(c));
  };
  on_admin(wire("admin_header_value_16385",
                head("GET /admin/agents/1 HTTP/1.1",
                     "X-Big: " + std::string(16'385, 'a') + "\r\n")));
  on_admin(wire("admin_cl_te_conflict",
                head("PUT /admin/agents/1 HTTP/1.1",
                     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
                  + "0\r\n\r\n"));
  on_admin(wire("admin_chunk_size_overflow",
                head("PUT /admin/agents HTTP/1.1",
                     "Transfer-Encoding: chunked\r\n")
                  + "FFFFFFFFFFFFFFFFFFFF\r\n[]\r\n0\r\n\r\n"));
  return out;
}

// -- the catalogue: pipelined garbage -----------------------------------------

std::vector<hostile_case> pipelined_cases() {
  std::vector<hostile_case> out;
  // A valid read, kept alive, then garbage on the same connection: the
  // read may get its 200; the garbage must not get a 2xx.
  const std::string good = agent2_line + "\r\nHost: x\r\n\r\n";
  auto after_good = [&](std::string name, std::string garbage) {
    auto c = wire("pipelined_" + std::move(name), good + garbage);
    c.legal_first = 1;
    out.push_back(std::move(c));
  };
  after_good("text", "GARBAGE GARBAGE\r\n\r\n");
  after_good("binary", "\x00\x01\x02\xff\xfe\r\n\r\n"s);
  after_good("cl_te_conflict",
             head(stop_line, "Content-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n")
               + "0\r\n\r\n");
  after_good("overlong_header",
             head(agent2_line, "X-Big: " + std::string(20'000, 'a')
                                 + "\r\n"));
  after_good("http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  auto two = wire("pipelined_two_good_then_garbage",
                  good + good + "\x16\x03\x01garbage\r\n\r\n"s);
  two.legal_first = 2;
  out.push_back(two);
  // A body longer than its Content-Length: the rest is a garbage request.
  out.push_back(wire("pipelined_body_overflows_content_length",
                     stop_line + "\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
                       + "{}" + a2()));
  // The same on the admin listener.
  for (auto garbage : {"GARBAGE\r\n\r\n", "\x16\x03\x01\r\n\r\n"}) {
    auto c = wire("pipelined_admin_" + std::to_string(out.size()),
                  "GET /admin/agents/1 HTTP/1.1\r\nHost: x\r\n\r\n"s
                    + garbage);
    c.admin = true;
    c.legal_first = 1;
    out.push_back(std::move(c));
  }
  return out;
}

// -- checking -----------------------------------------------------------------

/// Non-printable bytes as \xHH, long texts shortened.
std::string show(std::string_view s, std::size_t max = 240) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max)
    out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string describe(const hostile_case& c) {
  std::string where = c.admin ? "admin " : "api ";
  if (c.how == sent_by::raw)
    return where + "raw bytes: " + show(c.bytes);
  std::string s = where + c.method + " " + c.target;
  for (auto& [k, v] : c.headers)
    s += " [" + k + ": " + v + "]";
  if (!c.body.empty())
    s += " body: " + c.body;
  return show(s);
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

/// What is wrong with an answer to a hostile request; "" when it is a 4xx
/// with the contract's error shape (a JSON object — valid UTF-8 — with
/// exactly a non-empty string Message and a string Code) and the status
/// and Code the case expects.
std::string answer_problem(int status, const std::string& content_type,
                           const std::string& body, const expect& want) {
  if (status < 400 || status > 499)
    return "status " + std::to_string(status) + " is not a 4xx";
  if (want.status != 0 && status != want.status)
    return "status " + std::to_string(status) + ", expected "
           + std::to_string(want.status);
  if (content_type.find("application/json") == std::string::npos)
    return "Content-Type '" + content_type + "' is not JSON";
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(body.c_str(), body.size());
  if (d.HasParseError())
    return std::string("the body is not valid JSON: ")
           + rapidjson::GetParseError_En(d.GetParseError()) + " at byte "
           + std::to_string(d.GetErrorOffset());
  if (!d.IsObject() || d.MemberCount() != 2 || !d.HasMember("Message")
      || !d.HasMember("Code") || !d["Message"].IsString()
      || !d["Code"].IsString() || d["Message"].GetStringLength() == 0)
    return "the body is not {\"Message\", \"Code\"}";
  std::string code = d["Code"].GetString();
  if (!want.code.empty() && code != want.code)
    return "Code " + code + ", expected " + want.code;
  return {};
}

/// "status Code" of an answer, for the log (`--log_level=message`).
std::string summary(int status, const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  std::string code = !d.HasParseError() && d.IsObject() && d.HasMember("Code")
                         && d["Code"].IsString()
                       ? d["Code"].GetString()
                       : "-";
  return std::to_string(status) + " " + code;
}

struct wire_answer {
  int status = 0;
  std::string content_type;
  std::string body;
};

/// Splits what a raw connection read into HTTP responses (1xx interim
/// ones dropped); "" when it is a sequence of complete responses.
std::string split_answers(std::string_view in, std::vector<wire_answer>& out) {
  while (!in.empty()) {
    auto end = in.find("\r\n\r\n");
    if (end == std::string_view::npos)
      return "an incomplete response head";
    auto head = in.substr(0, end + 2);
    in.remove_prefix(end + 4);
    auto line_end = head.find("\r\n");
    auto status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1."
        || status_line[8] != ' ')
      return "not an HTTP/1.x status line: " + show(status_line);
    wire_answer a;
    a.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    std::optional<std::size_t> length;
    for (auto pos = line_end + 2; pos < head.size();) {
      auto e = head.find("\r\n", pos);
      auto line = head.substr(pos, e - pos);
      pos = e + 2;
      auto colon = line.find(':');
      if (colon == std::string_view::npos)
        return "a response header without a colon: " + show(line);
      auto name = line.substr(0, colon);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      if (same_name(name, "Content-Length"))
        length = std::stoul(std::string(value));
      else if (same_name(name, "Content-Type"))
        a.content_type = std::string(value);
      else if (same_name(name, "Transfer-Encoding"))
        return "a response with Transfer-Encoding";
    }
    if (a.status >= 100 && a.status < 200)
      continue;
    if (length) {
      if (in.size() < *length)
        return "a response body cut short";
      a.body = std::string(in.substr(0, *length));
      in.remove_prefix(*length);
    } else {
      a.body = std::string(in);
      in = {};
    }
    out.push_back(std::move(a));
  }
  return {};
}

void check_request_case(demo_server& s, const hostile_case& c) {
  auto client = c.admin ? s.srv.admin() : s.srv.api();
  client.set_timeout(10s);
  http_response r;
  try {
    r = client.request(c.method, c.target, c.body, c.headers);
  } catch (const std::exception& e) {
    BOOST_ERROR("case " << c.name << ": the exchange failed (" << e.what()
                        << ")\n  sent " << describe(c));
    return;
  }
  BOOST_TEST_MESSAGE(c.name << ": "
                            << (r.status == 0 ? "closed"
                                              : summary(r.status, r.body)));
  if (r.status == 0) {
    BOOST_ERROR("case " << c.name << ": closed without an answer\n  sent "
                        << describe(c));
    return;
  }
  auto problem = answer_problem(r.status, r.header("Content-Type"), r.body,
                                c.want);
  BOOST_CHECK_MESSAGE(problem.empty(),
                      "case " << c.name << ": " << problem << "\n  sent "
                              << describe(c) << "\n  got " << r.status << " "
                              << show(r.body));
}

void check_raw_case(demo_server& s, const hostile_case& c) {
  auto client = c.admin ? s.srv.admin() : s.srv.api();
  std::string got;
  try {
    got = client.raw(c.bytes, c.wait);
  } catch (const std::exception& e) {
    BOOST_ERROR("case " << c.name << ": cannot connect (" << e.what() << ")");
    return;
  }
  std::vector<wire_answer> answers;
  auto bad = split_answers(got, answers);
  if (!bad.empty()) {
    BOOST_ERROR("case " << c.name << ": " << bad << "\n  sent "
                        << describe(c) << "\n  got " << show(got));
    return;
  }
  std::string log = answers.empty() ? "no answer" : "";
  for (auto& a : answers)
    log += (log.empty() ? "" : ", ") + summary(a.status, a.body);
  BOOST_TEST_MESSAGE(c.name << ": " << log);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    auto& a = answers[i];
    if (i < c.legal_first && a.status == 200)
      continue; // the legal request before the garbage
    auto problem = answer_problem(a.status, a.content_type, a.body, c.want);
    BOOST_CHECK_MESSAGE(problem.empty(),
                        "case " << c.name << ", answer " << i + 1 << ": "
                                << problem << "\n  sent " << describe(c)
                                << "\n  got " << show(got, 400));
  }
}

/// "" when a GET of `target` on a fresh connection answers 200, else what
/// it got.
std::string fails_to_answer(http_client client, const std::string& target) {
  try {
    client.set_timeout(5s);
    auto r = client.get(target);
    if (r.status == 200)
      return {};
    return std::to_string(r.status) + " " + show(r.body);
  } catch (const std::exception& e) {
    return e.what();
  }
}

/// GetAll and the recordings list, as a client sees them; nothing (and
/// an error) when the server does not answer both.
std::optional<std::string> snapshot(demo_server& s) {
  try {
    auto c = s.srv.api();
    auto agents = c.get("/api/Agent/GetAll");
    auto recordings = c.get("/api/Recordings?limit=1000");
    if (agents.status == 200 && recordings.status == 200)
      return agents.body + "\n" + recordings.body;
    BOOST_ERROR("snapshot failed: " << agents.status << " "
                                    << show(agents.body) << " / "
                                    << recordings.status << " "
                                    << show(recordings.body));
  } catch (const std::exception& e) {
    BOOST_ERROR("snapshot failed: " << e.what());
  }
  return std::nullopt;
}

std::string first_difference(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i])
    ++i;
  if (i == a.size() && i == b.size())
    return {};
  auto from = i < 80 ? 0 : i - 80;
  return "at byte " + std::to_string(i) + ":\n  before ..."
         + show(a.substr(from, 200)) + "\n  after  ..."
         + show(b.substr(from, 200));
}

/// The state every table starts from: agent 2 on call c-1 with audio and
/// duplicate recordings, agent 4 (Phone 7000) with a desktop screen
/// recording, agent 3 with a running blackout.
void set_up_state(demo_server& s) {
  s.call_started("Id", "2", "c-1");
  for (auto [path, body] :
       {std::pair{"/api/Record/StartForAgent", a2()},
        std::pair{"/api/Record/StartDuplicateForAgent", a2()},
        std::pair{"/api/ScreenRecord/StartForAgent", sel("Phone", "7000")},
        std::pair{"/api/Blackout/StartForAgent", sel("Id", "3")}}) {
    auto r = s.api.post(path, body);
    BOOST_REQUIRE_MESSAGE(r.status == 200, path << ": " << r.body);
  }
}

void run_catalogue(const std::vector<hostile_case>& cases) {
  demo_server s;
  set_up_state(s);
  const auto before = snapshot(s);
  BOOST_REQUIRE(before);
  for (auto& c : cases) {
    if (c.how == sent_by::request)
      check_request_case(s, c);
    else
      check_raw_case(s, c);
    // The server still answers a normal request, on a fresh connection.
    auto why = fails_to_answer(s.srv.api(), agent2_query);
    if (!why.empty() && !s.srv.running()) {
      auto output = s.srv.output();
      output.erase(0, output.size() - std::min<std::size_t>(output.size(),
                                                            2'000));
      BOOST_FAIL("the server died after case " << c.name << "\n  sent "
                                                << describe(c)
                                                << "\n  its output: "
                                                << show(output, 2'000));
    }
    BOOST_CHECK_MESSAGE(why.empty(), "after case "
                                       << c.name
                                       << " a normal GET /api/Agent got "
                                       << why);
    if (c.admin) {
      why = fails_to_answer(s.srv.admin(), "/admin/health");
      BOOST_CHECK_MESSAGE(why.empty(), "after case "
                                         << c.name
                                         << " GET /admin/health got " << why);
    }
  }
  if (auto after = snapshot(s)) {
    auto diff = first_difference(*before, *after);
    BOOST_CHECK_MESSAGE(diff.empty(), "the state changed " << diff);
  }
  BOOST_TEST(s.srv.running());
  BOOST_TEST(s.srv.stop() == 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile)

BOOST_AUTO_TEST_CASE(catalogue_has_100_distinct_cases) {
  std::vector<std::string> names;
  std::string sizes;
  for (auto* table : {&body_cases, &framing_cases, &pipelined_cases}) {
    auto cases = (*table)();
    sizes += (sizes.empty() ? "" : " + ") + std::to_string(cases.size());
    for (auto& c : cases)
      names.push_back(c.name);
  }
  BOOST_TEST_MESSAGE(names.size() << " hostile cases (" << sizes << ")");
  BOOST_TEST(names.size() >= 100u);
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  BOOST_CHECK_MESSAGE(dup == names.end(),
                      "duplicate case name "
                        << (dup == names.end() ? "" : *dup));
}

BOOST_AUTO_TEST_CASE(bodies_and_parameters) {
  run_catalogue(body_cases());
}

BOOST_AUTO_TEST_CASE(http_framing) {
  run_catalogue(framing_cases());
}

BOOST_AUTO_TEST_CASE(pipelined_garbage) {
  run_catalogue(pipelined_cases());
}

BOOST_AUTO_TEST_SUITE_END()
