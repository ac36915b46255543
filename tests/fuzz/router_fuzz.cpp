// The router: (listener, method, path) to a route, 404 or 405.
//
// Input: METHOD " " PATH, e.g. "POST /api/record/startforagent/".
// Both listeners are tried.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_value.hpp"
#include "http/router.hpp"
#include "tests/fuzz/fuzz_util.hpp"

using namespace rapi;
using rapi::fuzz::as_text;

namespace {

std::string to_upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in = as_text(data, size);
  auto sp = in.find(' ');
  std::string_view method = in.substr(0, sp);
  std::string_view path =
    sp == std::string_view::npos ? std::string_view{} : in.substr(sp + 1);

  for (auto l : {listener::api, listener::admin}) {
    auto m = match_route(l, method, path);
    FUZZ_CHECK(m.status == 0 || m.status == 404 || m.status == 405,
               std::to_string(m.status));
    FUZZ_CHECK(m.name != nullptr, "route without a name");
    if (m.status == 0) {
      FUZZ_CHECK(m.which != route::none, "found, but no route");
      FUZZ_CHECK(m.allow.empty(), m.allow);
      FUZZ_CHECK(m.param.find('/') == std::string::npos, m.param);
    } else {
      FUZZ_CHECK(m.which == route::none, "not found, but a route");
      FUZZ_CHECK(m.param.empty() || m.status == 405, m.param);
      FUZZ_CHECK((m.status == 405) == !m.allow.empty(), m.allow);
    }

    // Paths are case-insensitive and a trailing '/' is ignored.
    auto upper = match_route(l, method, to_upper(path));
    FUZZ_CHECK(upper.which == m.which && upper.status == m.status,
               "case changed the route");
    auto slash = match_route(l, method, std::string(path) + "/");
    FUZZ_CHECK(slash.which == m.which && slash.status == m.status,
               "a trailing slash changed the route");
    if (m.status == 0)
      FUZZ_CHECK(slash.param == m.param, "a trailing slash changed the param");

    // HEAD is served like GET.
    if (method == "GET") {
      auto head = match_route(l, "HEAD", path);
      FUZZ_CHECK(head.which == m.which && head.status == m.status,
                 "HEAD differs from GET");
    }
  }
  return 0;
}
