#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rapi {

/// A parsed JSON value that keeps numbers as their source text.
///
/// The API accepts `Value` and metadata values as "string or number, stored
/// as its text", and must reject huge or odd numbers with a message rather
/// than silently rounding them; keeping the lexeme makes both exact.
struct json_value {
  enum class kind : std::uint8_t { null, boolean, number, string, array, object };

  kind type = kind::null;
  bool boolean = false;
  /// The string's text, or the number's lexeme.
  std::string text;
  std::vector<json_value> items;
  std::vector<std::pair<std::string, json_value>> members;

  bool is_null() const { return type == kind::null; }
  bool is_object() const { return type == kind::object; }
  bool is_array() const { return type == kind::array; }
  bool is_string() const { return type == kind::string; }
  bool is_number() const { return type == kind::number; }

  /// The member named `key` (exact match), or nullptr.
  const json_value* find(std::string_view key) const;
};

/// Why a body did not parse.
struct json_parse_error {
  std::string message;
  std::size_t offset = 0;
};

/// Parses `text` as one complete JSON document (trailing garbage, NaN,
/// Infinity, invalid UTF-8, duplicate keys in one object and nesting deeper
/// than `max_depth` are errors). The parser is iterative, so hostile nesting
/// cannot overflow the stack.
bool parse_json(std::string_view text, json_value& out, json_parse_error& err,
                std::size_t max_depth = 64);

/// A name "case-insensitively equal" to another: ASCII letters only.
bool iequals(std::string_view a, std::string_view b);

/// ASCII lower-case copy.
std::string to_lower(std::string_view s);

/// Parses a non-negative decimal integer that fits in int64 (leading `+` and
/// zeros allowed, nothing else).
std::optional<std::int64_t> parse_int(std::string_view s);

/// Parses an optionally negative decimal integer that fits in int64.
std::optional<std::int64_t> parse_signed_int(std::string_view s);

/// Parses a non-negative number written as JSON writes numbers (or as
/// `parse_int` takes it) whose value is a whole number that fits in int64:
/// `2`, `+2`, `02`, `2.0`, `2e0`, `0.2E+1`, `20e-1` are all 2; `2.5`,
/// `-2`, `1e19`, `2.`, `.2e1`, `0x2` are none. Exact: no floating point.
std::optional<std::int64_t> parse_whole_number(std::string_view s);

// -- writing ----------------------------------------------------------------

/// Appends `s` as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

/// Appends `v` in decimal, without a temporary string (the hot paths write
/// a score of integers per request).
void append_integer(std::string& out, std::int64_t v);

/// True when `s` is valid UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

/// The first `max_bytes` bytes of `s`, fewer when that would cut a UTF-8
/// sequence in two (for quoting client text in messages).
std::string utf8_prefix(std::string_view s, std::size_t max_bytes);

} // namespace rapi
