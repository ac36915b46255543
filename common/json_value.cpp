#include "common/json_value.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <rapidjson/encodedstream.h>
#include <rapidjson/encodings.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace rapi {
namespace {
/// Tags the work stack of our reader (see the specialisation below).
struct parse_stack_allocator : rapidjson::CrtAllocator {};
} // namespace
} // namespace rapi

/// RapidJSON 1.1.0 (Debian 12) allocates its reader's work stack lazily
/// and checks for room with `stackTop_ + n > stackEnd_` while both are
/// null: pointer arithmetic on a null pointer, undefined behaviour on the
/// first push of every parse (UBSan: "applying non-zero offset to null
/// pointer", found by tests/fuzz; fixed upstream in Tencent/rapidjson
/// 16872af, after the last release). Our reader uses this stack instead:
/// the same push/pop interface the reader needs, over a buffer that
/// exists from the start.
template <>
class rapidjson::internal::Stack<rapi::parse_stack_allocator> {
public:
  Stack(rapi::parse_stack_allocator*, std::size_t capacity)
    : bytes_(capacity > 0 ? capacity : 256) {}

  void Clear() { top_ = 0; }

  template <typename T>
  T* Push(std::size_t count = 1) {
    const std::size_t n = sizeof(T) * count;
    if (bytes_.size() - top_ < n)
      bytes_.resize(std::max(bytes_.size() * 2, top_ + n));
    T* p = reinterpret_cast<T*>(bytes_.data() + top_);
    top_ += n;
    return p;
  }

  template <typename T>
  T* Pop(std::size_t count) {
    RAPIDJSON_ASSERT(top_ >= sizeof(T) * count);
    top_ -= sizeof(T) * count;
    return reinterpret_cast<T*>(bytes_.data() + top_);
  }

  template <typename T>
  T* Top() {
    RAPIDJSON_ASSERT(top_ >= sizeof(T));
    return reinterpret_cast<T*>(bytes_.data() + top_ - sizeof(T));
  }

private:
  std::vector<char> bytes_;
  std::size_t top_ = 0;
};

namespace rapi {

const json_value* json_value::find(std::string_view key) const {
  for (auto& [k, v] : members)
    if (k == key)
      return &v;
  return nullptr;
}

namespace {

/// SAX handler building a json_value tree with an explicit stack.
struct builder {
  json_value* root;
  std::vector<json_value*> stack;
  std::string pending_key;
  std::size_t max_depth;
  std::string failure;

  json_value* next_slot() {
    if (stack.empty())
      return root;
    auto* top = stack.back();
    if (top->is_array()) {
      top->items.emplace_back();
      return &top->items.back();
    }
    top->members.emplace_back(std::move(pending_key), json_value{});
    pending_key.clear();
    return &top->members.back().second;
  }

  bool scalar(json_value::kind k, std::string text = {}, bool b = false) {
    auto* v = next_slot();
    v->type = k;
    v->text = std::move(text);
    v->boolean = b;
    return true;
  }

  bool Null() { return scalar(json_value::kind::null); }
  bool Bool(bool b) { return scalar(json_value::kind::boolean, {}, b); }
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return scalar(json_value::kind::number, std::string(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    // RapidJSON decodes an escaped lone low surrogate (\udc00) into bytes
    // that are not UTF-8; refuse it like any other invalid UTF-8.
    if (!valid_utf8({s, n})) {
      failure = "a JSON string is not valid UTF-8 (lone surrogate escape)";
      return false;
    }
    return scalar(json_value::kind::string, std::string(s, n));
  }
  bool open(json_value::kind k) {
    if (stack.size() >= max_depth) {
      failure = "JSON nesting is deeper than " + std::to_string(max_depth)
                + " levels";
      return false;
    }
    const bool root = stack.empty();
    auto* v = next_slot();
    v->type = k;
    // An API body is an object of a handful of members: room for them at
    // once rather than growing 1, 2, 4, 8 (only the root's: a body of many
    // small objects must not cost 8 members' room each).
    if (root && k == json_value::kind::object)
      v->members.reserve(8);
    stack.push_back(v);
    return true;
  }
  bool StartObject() { return open(json_value::kind::object); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    std::string_view key{s, n};
    if (!valid_utf8(key)) {
      failure = "a JSON key is not valid UTF-8 (lone surrogate escape)";
      return false;
    }
    if (stack.back()->find(key) != nullptr) {
      failure = "duplicate key '" + std::string(key) + "' in a JSON object";
      return false;
    }
    pending_key.assign(s, n);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    stack.pop_back();
    return true;
  }
  bool StartArray() { return open(json_value::kind::array); }
  bool EndArray(rapidjson::SizeType) {
    stack.pop_back();
    return true;
  }
};

} // namespace

bool parse_json(std::string_view text, json_value& out, json_parse_error& err,
                std::size_t max_depth) {
  out = json_value{};
  // RapidJSON stops at a NUL as if the text ended there: what follows
  // would be ignored. A NUL is never part of a JSON text.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    err.offset = nul;
    err.message = "a NUL byte (at byte " + std::to_string(nul)
                  + ") is not allowed in JSON";
    return false;
  }
  builder b{&out, {}, {}, max_depth, {}};
  b.stack.reserve(8);
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(
    ms);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>,
                          parse_stack_allocator>
    reader;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag
                             | rapidjson::kParseValidateEncodingFlag
                             | rapidjson::kParseNumbersAsStringsFlag;
  auto result = reader.Parse<flags>(is, b);
  if (!result.IsError())
    return true;
  err.offset = result.Offset();
  if (!b.failure.empty())
    err.message = b.failure;
  else
    err.message = std::string(rapidjson::GetParseError_En(result.Code()))
                  + " (at byte " + std::to_string(result.Offset()) + ")";
  out = json_value{};
  return false;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return r;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  if (s.empty())
    return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (v > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10)
      return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<std::int64_t> parse_signed_int(std::string_view s) {
  if (!s.empty() && s.front() == '-') {
    auto v = parse_int(s.substr(1));
    if (!v || s.size() < 2 || s[1] == '+')
      return std::nullopt;
    return -*v;
  }
  return parse_int(s);
}

std::optional<std::int64_t> parse_whole_number(std::string_view s) {
  if (auto v = parse_int(s))
    return v;
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  auto digits_at = [&](std::size_t i) {
    std::size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9')
      ++j;
    return j - i;
  };
  // int [ "." frac ] [ ("e" | "E") [sign] exp ]
  const std::size_t int_len = digits_at(0);
  if (int_len == 0)
    return std::nullopt;
  std::size_t i = int_len, frac_len = 0;
  if (i < s.size() && s[i] == '.') {
    frac_len = digits_at(i + 1);
    if (frac_len == 0)
      return std::nullopt;
    i += 1 + frac_len;
  }
  std::int64_t exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
      neg = s[i++] == '-';
    const std::size_t exp_len = digits_at(i);
    if (exp_len == 0)
      return std::nullopt;
    for (std::size_t k = i; k < i + exp_len; ++k) {
      exp = exp * 10 + (s[k] - '0');
      if (exp > 100'000)
        exp = 100'000; // far beyond any int64: clamped, judged below
    }
    i += exp_len;
    if (neg)
      exp = -exp;
  }
  if (i != s.size())
    return std::nullopt;
  // The significant digits (integer and fraction part, leading zeros
  // dropped) times 10^(exp - frac_len).
  std::string mantissa(s.substr(0, int_len));
  if (frac_len > 0)
    mantissa.append(s.substr(int_len + 1, frac_len));
  mantissa.erase(0, std::min(mantissa.find_first_not_of('0'), mantissa.size()));
  if (mantissa.empty())
    return 0;
  exp -= static_cast<std::int64_t>(frac_len);
  while (exp < 0 && mantissa.back() == '0') {
    mantissa.pop_back();
    ++exp;
  }
  if (exp < 0)
    return std::nullopt; // a fraction is left
  if (static_cast<std::size_t>(exp) + mantissa.size() > 19)
    return std::nullopt; // at least 10^19: beyond int64
  mantissa.append(static_cast<std::size_t>(exp), '0');
  return parse_int(mantissa);
}

namespace {

/// The length of the valid UTF-8 sequence starting at `s[i]` (a byte
/// >= 0x80), or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c = b(i);
  std::size_t len;
  unsigned cp;
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
      || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
      || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

} // namespace

void append_integer(std::string& out, std::int64_t v) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, v).ptr);
}

namespace {

bool plain_byte(unsigned char p) {
  return p >= 0x20 && p < 0x80 && p != '"' && p != '\\';
}

/// Where the run of plain ASCII (nothing to escape) from `i` ends. Eight
/// bytes at a time: every byte of `w` is plain when none is 0x80 or more,
/// below 0x20, a quote or a backslash (bit tricks: a byte of `x - 0x01..`
/// has its top bit set where `x` had a zero byte, or a borrow crossed it,
/// which only happens after a true zero).
std::size_t plain_run_end(std::string_view s, std::size_t i) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  while (i + 8 <= s.size()) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    const std::uint64_t bad = (w & highs) | ((w - ones * 0x20) & ~w & highs)
                              | zero_byte(w ^ (ones * '"'))
                              | zero_byte(w ^ (ones * '\\'));
    if (bad != 0)
      break;
    i += 8;
  }
  while (i < s.size() && plain_byte(static_cast<unsigned char>(s[i])))
    ++i;
  return i;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    // Most text needs no escaping: copy each run of plain ASCII at once.
    const std::size_t plain = plain_run_end(s, i);
    if (plain > i) {
      out.append(s.data() + i, plain - i);
      i = plain;
      if (i == s.size())
        break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Whatever a client sent (a path, a parameter echoed in a message),
      // the JSON we write is valid UTF-8: a bad byte becomes U+FFFD.
      auto len = utf8_sequence(s, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
      } else {
        out.append(s.data() + i, len);
        i += len - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes)
    return std::string(s);
  // s[n] is the first byte left out; while it continues a sequence, that
  // sequence began inside the prefix: leave it out whole.
  std::size_t n = max_bytes;
  for (int k = 0; k < 3 && n > 0
                  && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80;
       ++k)
    --n;
  return std::string(s.substr(0, n));
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    auto len = utf8_sequence(s, i);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

} // namespace rapi
