// CTI events: the body of POST /api/Cti/Events (one event object or an
// array of them) through read_cti_event, and every event that reads cleanly
// applied, in order, to one agent's pure state logic.
//
// Input: the request body, e.g.
//   {"AgentIdentifier":"Id","Value":"2","Type":"CallStarted","CallId":"c-77"}

#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/agent_state.hpp"
#include "common/json_value.hpp"
#include "common/time_util.hpp"
#include "http/exchange.hpp"
#include "http/params.hpp"
#include "tests/fuzz/fuzz_util.hpp"

using namespace rapi;
using rapi::fuzz::as_text;
using rapi::fuzz::check_client_error;
using rapi::fuzz::is_error_body;
using rapi::fuzz::is_json;

namespace {

const param_limits& limits() {
  static const param_limits lim = [] {
    param_limits l;
    if (auto z = time_zone::parse("Europe/London"))
      l.zone = *z;
    return l;
  }();
  return lim;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view body = as_text(data, size);
  const bool utf8 = valid_utf8(body);
  request_params p;
  if (p.parse(body, {}, "application/json"))
    return 0;
  const auto& root = p.body();
  std::vector<const json_value*> events;
  if (root.is_array()) {
    for (auto& item : root.items)
      events.push_back(&item);
  } else {
    events.push_back(&root);
  }

  agent_settings settings;
  settings.server_id = "fuzz";
  std::uint64_t seq = 0;
  settings.next_seq = [&seq] { return ++seq; };
  agent_state agent(2, settings);
  timestamp now = 1'764'497'730'000;

  for (auto* ev : events) {
    agent_selector who;
    command cmd;
    auto err = read_cti_event(*ev, limits(), who, cmd);
    check_client_error(err, utf8);
    if (err)
      continue;
    FUZZ_CHECK(cmd.kind == command_kind::cti_event, "not a CTI command");
    const auto& e = cmd.event;
    FUZZ_CHECK(!e.call_id.empty() && e.call_id.size() <= 256, e.call_id);
    FUZZ_CHECK(e.call_identifier.size() <= 256 && e.ani.size() <= 256
                 && e.dnis.size() <= 256 && e.direction.size() <= 256,
               "over-long CTI field accepted");
    FUZZ_CHECK(parse_id_kind(who.kind_text).has_value(), who.kind_text);

    now += 1500;
    auto backup = agent.live;
    auto out = agent.apply(cmd, now);
    if (out.error) {
      agent.live = std::move(backup);
      FUZZ_CHECK(!out.error.message.empty(), "error without a message");
      continue;
    }
    if (utf8)
      FUZZ_CHECK(is_json(out.body), out.body);
  }
  agent.advance(now + 3'600'000);
  return 0;
}
