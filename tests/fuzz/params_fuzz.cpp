// Request parameters: body parsing (JSON, form, typographic quotes), the
// query string, and every extractor that runs after parsing.
//
// Input: [ "?" QUERY "\n" ] [ "!" CONTENT-TYPE "\n" ] BODY
// e.g.   ?agentIdentifier=Id&value=2\n          (a GET with a query)
//        {"AgentIdentifier":"Id", "Value":"1"}   (a vendor example body)

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_value.hpp"
#include "common/time_util.hpp"
#include "http/exchange.hpp"
#include "http/params.hpp"
#include "tests/fuzz/fuzz_util.hpp"

using namespace rapi;
using rapi::fuzz::as_text;
using rapi::fuzz::check_client_error;
using rapi::fuzz::is_error_body;
using rapi::fuzz::take_line;

namespace {

const param_limits& limits(int which) {
  static const param_limits plain;
  static const param_limits strict = [] {
    param_limits l;
    l.max_metadata_keys = 3;
    l.max_metadata_key_bytes = 8;
    l.max_metadata_value_bytes = 16;
    l.metadata_fields = {"user1", "User2", "ANI"};
    if (auto z = time_zone::parse("America/New_York"))
      l.zone = *z;
    l.max_time_offset_s = 3600;
    return l;
  }();
  return which == 0 ? plain : strict;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in = as_text(data, size);
  std::string_view query, content_type;
  if (!in.empty() && in.front() == '?') {
    query = take_line(in).substr(1);
  }
  if (!in.empty() && in.front() == '!') {
    content_type = take_line(in).substr(1);
  }
  const std::string_view body = in;
  const bool utf8 = valid_utf8(query) && valid_utf8(body);

  // The query string alone, as the form parser sees it.
  {
    json_value form;
    auto err = parse_form(query, form);
    check_client_error(err, utf8);
    FUZZ_CHECK(form.is_object(), "parse_form must leave an object");
    auto decoded = url_decode(query);
    if (decoded)
      FUZZ_CHECK(decoded->size() <= query.size(), "url_decode grew the text");
  }

  request_params p;
  auto err = p.parse(body, query, content_type);
  check_client_error(err, utf8);
  if (err)
    return 0;
  const auto& b = p.body();
  FUZZ_CHECK(b.is_null() || b.is_object() || b.is_array() || b.is_string()
               || b.is_number() || b.type == json_value::kind::boolean,
             "bad body kind");

  constexpr timestamp received = 1'764'497'730'123; // 2025-11-30T10:15:30.123Z
  for (int which = 0; which < 2; ++which) {
    const auto& lim = limits(which);

    agent_selector who;
    auto e = read_selector(p, who);
    check_client_error(e, utf8);
    if (!e)
      FUZZ_CHECK(!who.kind_text.empty(), "selector without a kind");

    command cmd;
    e = read_call_params(p, lim, cmd);
    check_client_error(e, utf8);
    if (!e) {
      if (cmd.call_identifier)
        FUZZ_CHECK(!cmd.call_identifier->empty()
                     && cmd.call_identifier->size() <= 256,
                   *cmd.call_identifier);
      FUZZ_CHECK(cmd.call_metadata.size() <= lim.max_metadata_keys,
                 "too many metadata keys accepted");
      for (auto& [k, v] : cmd.call_metadata) {
        FUZZ_CHECK(!k.empty() && k.size() <= lim.max_metadata_key_bytes, k);
        FUZZ_CHECK(v.size() <= lim.max_metadata_value_bytes, v);
      }
    }

    for (bool start : {true, false}) {
      command bt;
      e = read_blackout_time(p, lim, start, received, bt);
      check_client_error(e, utf8);
      if (!e) {
        FUZZ_CHECK(bt.time.has_value(), "blackout without a time");
        if (!bt.time_given)
          FUZZ_CHECK(*bt.time == received, "defaulted time is not receipt");
      }
    }

    for (const char* name : {"CallIdentifier", "agentId", "from", "to",
                             "limit", "cursor", "Value", "TimeOffset"}) {
      std::optional<std::string> text;
      check_client_error(read_text(p.get(name), name, text), utf8);
    }
  }
  return 0;
}
