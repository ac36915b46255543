#pragma once

/// Helpers shared by the libFuzzer harnesses (tests/fuzz/*_fuzz.cpp).
///
/// A harness reports a broken invariant by printing it and aborting: under
/// libFuzzer that is a crash like any sanitizer report (the input is kept),
/// under the replay driver it fails the test.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_value.hpp"
#include "http/exchange.hpp"
#include "http/params.hpp"

#define FUZZ_CHECK(cond, what)                                              \
  do {                                                                      \
    if (!(cond))                                                            \
      ::rapi::fuzz::fail(__FILE__, __LINE__, #cond, (what));                \
  } while (false)

namespace rapi::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* cond,
                              std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n  %.*s\n", file, line,
               cond, static_cast<int>(std::min<std::size_t>(what.size(), 2000)),
               what.data());
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Takes the first line off `s` (without its '\n' or "\r\n").
inline std::string_view take_line(std::string_view& s) {
  auto nl = s.find('\n');
  auto line = s.substr(0, nl);
  s = nl == std::string_view::npos ? std::string_view{} : s.substr(nl + 1);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

/// Splits `s` at lines that are exactly `sep` (the separator lines are
/// dropped); at most `max` parts, the last taking the rest.
inline std::vector<std::string_view> split_on_line(std::string_view s,
                                                   std::string_view sep,
                                                   std::size_t max) {
  std::vector<std::string_view> parts;
  std::size_t start = 0, pos = 0;
  while (parts.size() + 1 < max && pos <= s.size()) {
    auto nl = s.find('\n', pos);
    auto end = nl == std::string_view::npos ? s.size() : nl;
    auto line = s.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line == sep) {
      parts.push_back(s.substr(start, pos > start ? pos - start - 1 : 0));
      start = nl == std::string_view::npos ? s.size() : nl + 1;
    }
    if (nl == std::string_view::npos)
      break;
    pos = nl + 1;
  }
  parts.push_back(s.substr(std::min(start, s.size())));
  return parts;
}

/// True when `body` parses as JSON (the parser also demands UTF-8).
inline bool is_json(std::string_view body) {
  json_value v;
  json_parse_error err;
  return parse_json(body, v, err, 1000);
}

/// Checks the contract's error body: an object with exactly a non-empty
/// string `Message` and a non-empty string `Code`.
inline bool is_error_body(std::string_view body) {
  json_value v;
  json_parse_error err;
  if (!parse_json(body, v, err) || !v.is_object() || v.members.size() != 2)
    return false;
  auto* m = v.find("Message");
  auto* c = v.find("Code");
  return m && c && m->is_string() && c->is_string() && !m->text.empty()
         && !c->text.empty();
}

/// Every error the extractors return is a client error with a body that is
/// the contract's error shape; a request that was UTF-8 gets a UTF-8 answer.
inline void check_client_error(const http_error& err, bool utf8_input) {
  if (!err)
    return;
  FUZZ_CHECK(err.status == 400 || err.status == 404,
             std::to_string(err.status) + " " + err.code);
  FUZZ_CHECK(!err.code.empty() && !err.message.empty(), err.message);
  if (utf8_input) {
    FUZZ_CHECK(valid_utf8(err.message), err.message);
    FUZZ_CHECK(is_error_body(error_body(err.code, err.message)), err.message);
  }
}

} // namespace rapi::fuzz
