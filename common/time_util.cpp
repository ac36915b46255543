#include "common/time_util.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace rapi {

namespace {

constexpr std::int64_t ms_per_s = 1000;
constexpr std::int64_t s_per_day = 86400;
constexpr std::int64_t ms_per_day = s_per_day * ms_per_s;

/// The contract (and .NET's DateTimeOffset) caps offsets at 14 hours.
constexpr std::int32_t max_offset_s = 14 * 3600;

/// Integer division rounding towards minus infinity, so that times before
/// 1970 land on the day they belong to rather than the one after.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

/// The remainder matching `floor_div`, always in [0, b) for positive b.
std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  return a - floor_div(a, b) * b;
}

/// `a - b` clamped to the range of int64, so absurd inputs from callers
/// cannot cause undefined behaviour.
std::int64_t sub_sat(std::int64_t a, std::int64_t b) {
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a < lo + b) return lo;
  if (b < 0 && a > hi + b) return hi;
  return a - b;
}

struct civil_date {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

/// Inverse of `days_from_civil` (Howard Hinnant's `civil_from_days`).
civil_date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap(std::int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/// The Gregorian year a UTC second falls in; used to pick which years of
/// a recurring DST rule to expand.
std::int64_t year_of(std::int64_t utc_s) {
  return civil_from_days(floor_div(utc_s, s_per_day)).year;
}

void append_digits(std::string& out, std::uint64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n < width) buf[n++] = '0';
  while (n > 0) out.push_back(buf[--n]);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// A read position in text being parsed; every grammar here is a plain
/// left-to-right scan, so this is all the machinery needed.
class cursor {
public:
  explicit cursor(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  std::size_t pos() const { return pos_; }
  void reset(std::size_t pos) { pos_ = pos; }

  bool eat(char c) {
    if (done() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  /// Like `eat`, ignoring ASCII case.
  bool eat_ci(char c) {
    if (done() || to_lower(s_[pos_]) != to_lower(c)) return false;
    ++pos_;
    return true;
  }

  /// Reads at least `min` and at most `max` decimal digits. Stopping at
  /// `max` (rather than rejecting longer runs) lets `hhmm` offsets split.
  std::optional<int> number(std::size_t min, std::size_t max) {
    std::size_t n = 0;
    int v = 0;
    while (n < max && is_digit(peek())) {
      v = v * 10 + (s_[pos_++] - '0');
      ++n;
    }
    if (n < min) return std::nullopt;
    return v;
  }

private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

/// Parses `+hh:mm`, `-hhmm`, `+hh` (or `Z` when `allow_z`) into seconds
/// east of UTC. Timestamps demand two hour digits as .NET and RFC 3339
/// render them; zone names (`UTC+2`) are written by people, so one digit
/// is allowed there.
std::optional<std::int32_t> parse_offset(cursor& c, bool allow_z,
                                         std::size_t min_hour_digits) {
  if (allow_z && (c.eat('Z') || c.eat('z'))) return 0;
  int sign = 0;
  if (c.eat('+')) {
    sign = 1;
  } else if (c.eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  const auto hours = c.number(min_hour_digits, 2);
  if (!hours) return std::nullopt;
  int minutes = 0;
  if (c.eat(':') || is_digit(c.peek())) {
    const auto m = c.number(2, 2);
    if (!m) return std::nullopt;
    minutes = *m;
  }
  if (*hours > 14 || minutes > 59) return std::nullopt;
  const std::int32_t total = *hours * 3600 + minutes * 60;
  if (total > max_offset_s) return std::nullopt;
  return sign * total;
}

/// A wall-clock time of day, as read before range checks.
struct clock_time {
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millis = 0;
};

/// Reads `h:mm[:ss[.fff...]]`. The fraction may have any number of digits;
/// only the first three count, because the contract keeps milliseconds and
/// truncation (not rounding) never moves a time into the next second.
bool parse_clock(cursor& c, std::size_t min_hour_digits, clock_time& out) {
  const auto h = c.number(min_hour_digits, 2);
  if (!h || !c.eat(':')) return false;
  const auto m = c.number(2, 2);
  if (!m) return false;
  out.hour = *h;
  out.minute = *m;
  if (!c.eat(':')) return true;
  const auto s = c.number(2, 2);
  if (!s) return false;
  out.second = *s;
  if (!c.eat('.')) return true;
  if (!is_digit(c.peek())) return false;
  int digits = 0;
  int ms = 0;
  while (is_digit(c.peek())) {
    const int d = c.peek() - '0';
    c.eat(c.peek());
    if (digits < 3) ms = ms * 10 + d;
    ++digits;
  }
  for (; digits < 3; ++digits) ms *= 10;
  out.millis = ms;
  return true;
}

/// Checks ranges and turns a parsed local date-time into UTC, applying the
/// explicit offset if there was one and the caller's zone otherwise.
std::optional<timestamp> resolve(int year, int month, int day,
                                 const clock_time& t,
                                 std::optional<std::int32_t> offset_s,
                                 const time_zone& tz) {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) {
    return std::nullopt;
  }
  if (static_cast<unsigned>(day) >
      days_in_month(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  if (t.hour > 23 || t.minute > 59 || t.second > 59) return std::nullopt;
  const std::int64_t days = days_from_civil(
      year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t local =
      days * ms_per_day +
      (t.hour * 3600LL + t.minute * 60LL + t.second) * ms_per_s + t.millis;
  if (offset_s) return local - *offset_s * ms_per_s;
  return tz.local_to_utc(local);
}

/// Reads an optional trailing offset, which may follow one space. Returns
/// false when something other than a well-formed offset remains.
bool parse_trailing_offset(cursor& c, std::optional<std::int32_t>& offset) {
  if (c.done()) return true;
  c.eat(' ');
  offset = parse_offset(c, true, 2);
  return offset && c.done();
}

/// ISO 8601 / RFC 3339: `yyyy-MM-dd[(T|t| )HH:mm[:ss[.f...]][ ][offset]]`.
std::optional<timestamp> parse_iso(std::string_view text,
                                   const time_zone& tz) {
  cursor c(text);
  const auto y = c.number(4, 4);
  if (!y || !c.eat('-')) return std::nullopt;
  const auto mo = c.number(2, 2);
  if (!mo || !c.eat('-')) return std::nullopt;
  const auto d = c.number(2, 2);
  if (!d) return std::nullopt;
  clock_time t;
  std::optional<std::int32_t> offset;
  if (!c.done()) {
    if (!c.eat('T') && !c.eat('t') && !c.eat(' ')) return std::nullopt;
    if (!parse_clock(c, 2, t)) return std::nullopt;
    if (!parse_trailing_offset(c, offset)) return std::nullopt;
  }
  return resolve(*y, *mo, *d, t, offset, tz);
}

/// .NET's invariant default `M/d/yyyy h:mm:ss[.f...] [tt] [zzz]`, and the
/// same with a 24-hour clock as some cultures render it.
std::optional<timestamp> parse_dotnet(std::string_view text,
                                      const time_zone& tz) {
  cursor c(text);
  const auto mo = c.number(1, 2);
  if (!mo || !c.eat('/')) return std::nullopt;
  const auto d = c.number(1, 2);
  if (!d || !c.eat('/')) return std::nullopt;
  const auto y = c.number(4, 4);
  if (!y || !c.eat(' ')) return std::nullopt;
  clock_time t;
  if (!parse_clock(c, 1, t)) return std::nullopt;

  const std::size_t before_meridiem = c.pos();
  c.eat(' ');
  bool meridiem = false;
  bool pm = false;
  if (c.eat_ci('a')) {
    meridiem = true;
  } else if (c.eat_ci('p')) {
    meridiem = pm = true;
  }
  if (meridiem) {
    if (!c.eat_ci('m')) return std::nullopt;
    // 12 AM is midnight and 12 PM noon; 0 and 13+ have no 12-hour form.
    if (t.hour < 1 || t.hour > 12) return std::nullopt;
    t.hour = t.hour % 12 + (pm ? 12 : 0);
  } else {
    c.reset(before_meridiem);
  }

  std::optional<std::int32_t> offset;
  if (!parse_trailing_offset(c, offset)) return std::nullopt;
  return resolve(*y, *mo, *d, t, offset, tz);
}

} // namespace

/// A zone's UTC offsets over time: the explicit transitions of a TZif file
/// plus, for later instants, its POSIX TZ footer rule.
struct time_zone::rules {
  struct transition {
    std::int64_t at_s;     ///< UTC second the offset starts to apply.
    std::int32_t offset_s; ///< Seconds east of UTC from then on.
  };

  /// One end of a DST period in a POSIX TZ string: `Jn`, `n` or `Mm.w.d`,
  /// plus a local time of day (which may be negative or exceed 24 hours).
  struct rule_date {
    char kind = 'M'; ///< 'J' (1-365, no Feb 29), 'N' (0-365), 'M'.
    int day = 0;     ///< For 'J' and 'N'.
    int month = 0;   ///< For 'M': 1-12.
    int week = 0;    ///< For 'M': 1-5, 5 meaning the last.
    int weekday = 0; ///< For 'M': 0 = Sunday.
    std::int32_t time_s = 7200;
  };

  /// The footer rule that extends the table past its last transition.
  struct posix_rule {
    std::int32_t std_offset_s = 0;
    bool has_dst = false;
    std::int32_t dst_offset_s = 0;
    rule_date start;
    rule_date end;
  };

  std::vector<std::int64_t> times_s;   ///< Ascending transition instants.
  std::vector<std::int32_t> offsets_s; ///< Offset from each transition.
  std::int32_t initial_offset_s = 0;   ///< Before the first transition.
  std::optional<posix_rule> footer;

  /// The offset in effect at UTC second `t`.
  std::int32_t offset_at(std::int64_t t) const {
    if (footer && (times_s.empty() || t > times_s.back())) {
      return footer_offset_at(t);
    }
    if (times_s.empty() || t < times_s.front()) return initial_offset_s;
    const auto it = std::upper_bound(times_s.begin(), times_s.end(), t);
    return offsets_s[static_cast<std::size_t>(it - times_s.begin()) - 1];
  }

  /// Every transition with `lo < at_s <= hi`, ascending.
  std::vector<transition> between(std::int64_t lo, std::int64_t hi) const {
    std::vector<transition> out;
    auto it = std::upper_bound(times_s.begin(), times_s.end(), lo);
    for (; it != times_s.end() && *it <= hi; ++it) {
      const auto i = static_cast<std::size_t>(it - times_s.begin());
      out.push_back({*it, offsets_s[i]});
    }
    if (footer && (times_s.empty() || hi > times_s.back())) {
      const std::int64_t from =
          times_s.empty() ? lo : std::max(lo, times_s.back());
      for (const auto& tr :
           footer_transitions(year_of(from) - 1, year_of(hi) + 1)) {
        if (tr.at_s > from && tr.at_s <= hi) out.push_back(tr);
      }
    }
    return out;
  }

  /// The footer's DST changes for years `first..last`, ascending. A start
  /// and an end at the same instant cancel, which is how TZ strings such
  /// as `EST5EDT4,0/0,J365/25` express permanent daylight saving time.
  std::vector<transition> footer_transitions(std::int64_t first,
                                             std::int64_t last) const {
    std::vector<transition> all;
    if (!footer || !footer->has_dst) return all;
    const posix_rule& r = *footer;
    for (std::int64_t y = first; y <= last; ++y) {
      all.push_back({rule_day(r.start, y) * s_per_day + r.start.time_s -
                         r.std_offset_s,
                     r.dst_offset_s});
      all.push_back(
          {rule_day(r.end, y) * s_per_day + r.end.time_s - r.dst_offset_s,
           r.std_offset_s});
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const transition& a, const transition& b) {
                       return a.at_s < b.at_s;
                     });
    std::vector<transition> out;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (i + 1 < all.size() && all[i].at_s == all[i + 1].at_s &&
          all[i].offset_s != all[i + 1].offset_s) {
        ++i;
        continue;
      }
      out.push_back(all[i]);
    }
    return out;
  }

  std::int32_t footer_offset_at(std::int64_t t) const {
    const posix_rule& r = *footer;
    if (!r.has_dst) return r.std_offset_s;
    const std::int64_t y = year_of(t);
    std::int32_t offset = r.std_offset_s;
    for (const auto& tr : footer_transitions(y - 1, y + 1)) {
      if (tr.at_s > t) break;
      offset = tr.offset_s;
    }
    return offset;
  }

  /// Days since the epoch of the day a rule date names in year `y`.
  static std::int64_t rule_day(const rule_date& d, std::int64_t y) {
    const std::int64_t jan1 = days_from_civil(y, 1, 1);
    if (d.kind == 'J') {
      return jan1 + d.day - 1 + (is_leap(y) && d.day >= 60 ? 1 : 0);
    }
    if (d.kind == 'N') return jan1 + d.day;
    const auto month = static_cast<unsigned>(d.month);
    const std::int64_t first = days_from_civil(y, month, 1);
    const std::int64_t first_weekday = floor_mod(first + 4, 7); // 1970: Thu
    std::int64_t day =
        first + floor_mod(d.weekday - first_weekday, 7) + (d.week - 1) * 7;
    while (day >= first + days_in_month(y, month)) day -= 7;
    return day;
  }
};

namespace {

using rules = time_zone::rules;

/// Reads a POSIX TZ time `[+-]h[hh][:mm[:ss]]` in seconds. Offsets allow
/// up to 24 hours, rule times up to 167 (RFC 8536 extension).
std::optional<std::int32_t> parse_posix_time(cursor& c, int max_hours) {
  int sign = 1;
  if (c.eat('-')) {
    sign = -1;
  } else {
    c.eat('+');
  }
  const auto h = c.number(1, 3);
  if (!h || *h > max_hours) return std::nullopt;
  int m = 0;
  int s = 0;
  if (c.eat(':')) {
    const auto mm = c.number(2, 2);
    if (!mm || *mm > 59) return std::nullopt;
    m = *mm;
    if (c.eat(':')) {
      const auto ss = c.number(2, 2);
      if (!ss || *ss > 59) return std::nullopt;
      s = *ss;
    }
  }
  return sign * (*h * 3600 + m * 60 + s);
}

/// Skips a zone abbreviation: `<+0530>` or at least three letters.
bool skip_posix_name(cursor& c) {
  if (c.eat('<')) {
    while (!c.done() && c.peek() != '>') c.eat(c.peek());
    return c.eat('>');
  }
  int n = 0;
  while ((c.peek() >= 'A' && c.peek() <= 'Z') ||
         (c.peek() >= 'a' && c.peek() <= 'z')) {
    c.eat(c.peek());
    ++n;
  }
  return n >= 3;
}

bool parse_rule_date(cursor& c, rules::rule_date& out) {
  if (c.eat('J')) {
    const auto n = c.number(1, 3);
    if (!n || *n < 1 || *n > 365) return false;
    out.kind = 'J';
    out.day = *n;
  } else if (c.eat('M')) {
    const auto m = c.number(1, 2);
    if (!m || *m < 1 || *m > 12 || !c.eat('.')) return false;
    const auto w = c.number(1, 1);
    if (!w || *w < 1 || *w > 5 || !c.eat('.')) return false;
    const auto d = c.number(1, 1);
    if (!d || *d > 6) return false;
    out.kind = 'M';
    out.month = *m;
    out.week = *w;
    out.weekday = *d;
  } else {
    const auto n = c.number(1, 3);
    if (!n || *n > 365) return false;
    out.kind = 'N';
    out.day = *n;
  }
  out.time_s = 7200;
  if (c.eat('/')) {
    const auto t = parse_posix_time(c, 167);
    if (!t) return false;
    out.time_s = *t;
  }
  return true;
}

/// Parses a TZif footer such as `EST5EDT,M3.2.0,M11.1.0`. POSIX offsets
/// count west of UTC, hence the sign flips.
std::optional<rules::posix_rule> parse_posix_tz(std::string_view text) {
  cursor c(text);
  rules::posix_rule r;
  if (!skip_posix_name(c)) return std::nullopt;
  const auto std_off = parse_posix_time(c, 24);
  if (!std_off) return std::nullopt;
  r.std_offset_s = -*std_off;
  if (c.done()) return r;
  if (!skip_posix_name(c)) return std::nullopt;
  r.has_dst = true;
  r.dst_offset_s = r.std_offset_s + 3600;
  if (!c.done() && c.peek() != ',') {
    const auto dst_off = parse_posix_time(c, 24);
    if (!dst_off) return std::nullopt;
    r.dst_offset_s = -*dst_off;
  }
  if (c.done()) {
    // POSIX leaves the default rule to the implementation; glibc and the
    // tz code use the current US rule.
    cursor dflt("M3.2.0,M11.1.0");
    parse_rule_date(dflt, r.start);
    dflt.eat(',');
    parse_rule_date(dflt, r.end);
    return r;
  }
  if (!c.eat(',') || !parse_rule_date(c, r.start) || !c.eat(',') ||
      !parse_rule_date(c, r.end) || !c.done()) {
    return std::nullopt;
  }
  return r;
}

/// Big-endian reader over a TZif image with bounds checking.
class byte_reader {
public:
  explicit byte_reader(const std::string& data) : data_(data) {}

  bool has(std::uint64_t n) const { return data_.size() - pos_ >= n; }
  std::size_t pos() const { return pos_; }
  void skip(std::size_t n) { pos_ += n; }

  std::uint8_t u8() { return static_cast<std::uint8_t>(data_[pos_++]); }

  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }

  std::int64_t i64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return static_cast<std::int64_t>(v);
  }

  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }

private:
  const std::string& data_;
  std::size_t pos_ = 0;
};

struct tzif_header {
  char version = 0;
  std::uint32_t isutcnt = 0;
  std::uint32_t isstdcnt = 0;
  std::uint32_t leapcnt = 0;
  std::uint32_t timecnt = 0;
  std::uint32_t typecnt = 0;
  std::uint32_t charcnt = 0;

  std::uint64_t block_size(std::uint64_t time_size) const {
    return std::uint64_t{timecnt} * time_size + timecnt +
           std::uint64_t{typecnt} * 6 + charcnt +
           std::uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

std::optional<tzif_header> read_tzif_header(byte_reader& r) {
  if (!r.has(44)) return std::nullopt;
  if (r.u8() != 'T' || r.u8() != 'Z' || r.u8() != 'i' || r.u8() != 'f') {
    return std::nullopt;
  }
  tzif_header h;
  h.version = static_cast<char>(r.u8());
  r.skip(15);
  h.isutcnt = r.u32();
  h.isstdcnt = r.u32();
  h.leapcnt = r.u32();
  h.timecnt = r.u32();
  h.typecnt = r.u32();
  h.charcnt = r.u32();
  if (h.typecnt == 0) return std::nullopt;
  return h;
}

/// Reads one TZif data block's transitions and types into `out`. Leap
/// second records are skipped: the server's clock is POSIX time.
bool read_tzif_block(byte_reader& r, const tzif_header& h, int time_size,
                     rules& out) {
  if (!r.has(h.block_size(static_cast<std::uint64_t>(time_size)))) {
    return false;
  }
  // Far-past sentinels (tzdata uses -2^59) are pulled in so that converting
  // them to milliseconds cannot overflow; +-10^13 s is ~300,000 years.
  constexpr std::int64_t clamp_s = 10'000'000'000'000;
  std::vector<std::int64_t> times(h.timecnt);
  std::int64_t previous = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::int64_t raw = time_size == 8 ? r.i64() : r.i32();
    if (i > 0 && raw <= previous) return false; // must ascend strictly
    previous = raw;
    times[i] = std::clamp(raw, -clamp_s, clamp_s);
  }
  std::vector<std::uint8_t> indices(h.timecnt);
  for (auto& i : indices) {
    i = r.u8();
    if (i >= h.typecnt) return false;
  }
  std::vector<std::int32_t> type_offsets(h.typecnt);
  for (auto& o : type_offsets) {
    o = r.i32();
    r.skip(2); // isdst, desigidx
    // RFC 8536 bounds utoff well inside a day; the window searched by
    // `local_to_utc` relies on that.
    if (o < -89999 || o > 93599) return false;
  }
  const auto leap_size = static_cast<std::size_t>(time_size + 4);
  r.skip(h.charcnt + std::size_t{h.leapcnt} * leap_size + h.isstdcnt +
         h.isutcnt);
  out.times_s = std::move(times);
  out.offsets_s.clear();
  for (auto i : indices) out.offsets_s.push_back(type_offsets[i]);
  out.initial_offset_s = type_offsets[0];
  return true;
}

/// Parses a TZif image (RFC 8536), preferring the 64-bit block and footer
/// of version 2+ files.
std::shared_ptr<const rules> parse_tzif(const std::string& data) {
  byte_reader r(data);
  const auto h1 = read_tzif_header(r);
  if (!h1) return nullptr;
  auto out = std::make_shared<rules>();
  if (h1->version == '\0') {
    if (!read_tzif_block(r, *h1, 4, *out)) return nullptr;
    return out;
  }
  if (!r.has(h1->block_size(4))) return nullptr;
  r.skip(static_cast<std::size_t>(h1->block_size(4)));
  const auto h2 = read_tzif_header(r);
  if (!h2 || !read_tzif_block(r, *h2, 8, *out)) return nullptr;
  // Footer: "\n<POSIX TZ>\n". An empty or unparsable one leaves the last
  // transition's offset in force, which is what readers did before v2.
  if (r.has(1) && data[r.pos()] == '\n') {
    const std::size_t start = r.pos() + 1;
    const std::size_t end = data.find('\n', start);
    if (end != std::string::npos && end > start) {
      out->footer =
          parse_posix_tz(std::string_view(data).substr(start, end - start));
    }
  }
  return out;
}

/// Zone names are file paths under the zoneinfo directory, so only the
/// characters tzdata uses are allowed and nothing may climb out of it.
bool is_safe_zone_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    is_digit(c) || c == '/' || c == '_' || c == '-' ||
                    c == '+' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::shared_ptr<const rules> read_zoneinfo(const std::string& name) {
  constexpr std::size_t max_size = 1 << 20; // real files are a few KiB
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  if (!in) return nullptr;
  std::string data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_size) return nullptr;
  }
  return parse_tzif(data);
}

/// Zones are parsed per request, so each file is read once per process.
/// Only successfully loaded zones are kept, which bounds the cache by the
/// number of files in the zoneinfo directory.
std::shared_ptr<const rules> load_zone(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const rules>> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(name);
    if (it != cache.end()) return it->second;
  }
  auto loaded = read_zoneinfo(name);
  if (loaded) {
    std::lock_guard<std::mutex> lock(mutex);
    cache.emplace(name, loaded);
  }
  return loaded;
}

} // namespace

void append_time(std::string& out, timestamp t) {
  const std::int64_t days = floor_div(t, ms_per_day);
  // Not `t - days * ms_per_day`: for t within a day of INT64_MIN the
  // product overflows (found by tests/fuzz/time_fuzz).
  const std::int64_t in_day = (t % ms_per_day + ms_per_day) % ms_per_day;
  const civil_date date = civil_from_days(days);
  if (date.year >= 0 && date.year <= 9999) {
    // Every time the API writes: fixed width, formatted in place and
    // appended at once (this runs several times per request).
    char buf[29];
    auto put = [&buf](int at, std::uint64_t v, int width) {
      for (int i = at + width - 1; i >= at; --i, v /= 10)
        buf[i] = static_cast<char>('0' + v % 10);
    };
    put(0, static_cast<std::uint64_t>(date.year), 4);
    buf[4] = '-';
    put(5, date.month, 2);
    buf[7] = '-';
    put(8, date.day, 2);
    buf[10] = 'T';
    put(11, static_cast<std::uint64_t>(in_day / 3'600'000), 2);
    buf[13] = ':';
    put(14, static_cast<std::uint64_t>(in_day / 60'000 % 60), 2);
    buf[16] = ':';
    put(17, static_cast<std::uint64_t>(in_day / 1000 % 60), 2);
    buf[19] = '.';
    put(20, static_cast<std::uint64_t>(in_day % 1000), 3);
    std::memcpy(buf + 23, "+00:00", 6);
    out.append(buf, sizeof buf);
    return;
  }
  if (date.year < 0) out.push_back('-');
  append_digits(out,
                static_cast<std::uint64_t>(date.year < 0 ? -date.year
                                                         : date.year),
                4);
  out.push_back('-');
  append_digits(out, date.month, 2);
  out.push_back('-');
  append_digits(out, date.day, 2);
  out.push_back('T');
  append_digits(out, static_cast<std::uint64_t>(in_day / 3'600'000), 2);
  out.push_back(':');
  append_digits(out, static_cast<std::uint64_t>(in_day / 60'000 % 60), 2);
  out.push_back(':');
  append_digits(out, static_cast<std::uint64_t>(in_day / 1000 % 60), 2);
  out.push_back('.');
  append_digits(out, static_cast<std::uint64_t>(in_day % 1000), 3);
  out.append("+00:00");
}

std::string format_time(timestamp t) {
  std::string out;
  out.reserve(29);
  append_time(out, t);
  return out;
}

time_zone::time_zone() = default;

std::optional<time_zone> time_zone::parse(std::string_view name) {
  if (name.empty()) return std::nullopt;
  time_zone tz;
  tz.name_ = std::string(name);
  if (equals_ci(name, "UTC") || equals_ci(name, "Z") ||
      equals_ci(name, "GMT")) {
    return tz;
  }

  // Fixed offsets, bare or after "UTC"/"GMT". The sign is ISO's (east is
  // positive, `UTC+2` is two hours ahead), not POSIX TZ's inverted one.
  std::string_view offset_text = name;
  if (name.size() > 3 && (equals_ci(name.substr(0, 3), "UTC") ||
                          equals_ci(name.substr(0, 3), "GMT"))) {
    offset_text = name.substr(3);
  }
  if (offset_text.front() == '+' || offset_text.front() == '-') {
    cursor c(offset_text);
    const auto offset = parse_offset(c, false, 1);
    if (!offset || !c.done()) return std::nullopt;
    tz.fixed_offset_s_ = *offset;
    return tz;
  }

  if (!is_safe_zone_name(name)) return std::nullopt;
  tz.rules_ = load_zone(tz.name_);
  if (!tz.rules_) return std::nullopt;
  return tz;
}

timestamp time_zone::local_to_utc(timestamp local_wall_ms) const {
  if (!rules_) return sub_sat(local_wall_ms, fixed_offset_s_ * ms_per_s);

  // Beyond ~31,000 years from 1970 nobody has DST questions; skip the
  // search so that second-to-millisecond conversions cannot overflow.
  constexpr timestamp search_limit = 1'000'000'000'000'000;
  const std::int64_t local_s = floor_div(local_wall_ms, ms_per_s);
  if (local_wall_ms > search_limit || local_wall_ms < -search_limit) {
    return sub_sat(local_wall_ms, rules_->offset_at(local_s) * ms_per_s);
  }

  // Offsets stay within +-26 hours, so every UTC instant that shows this
  // wall time lies within two days of it. Walk the offset intervals of
  // that window in order; the first that contains `local - offset` is the
  // earliest instant with this wall time.
  const std::int64_t lo = local_s - 2 * s_per_day;
  const std::int64_t hi = local_s + 2 * s_per_day;
  const std::int32_t first_offset = rules_->offset_at(lo);
  const auto changes = rules_->between(lo, hi);
  for (std::size_t i = 0; i <= changes.size(); ++i) {
    const std::int32_t offset =
        i == 0 ? first_offset : changes[i - 1].offset_s;
    const std::int64_t begin_ms =
        (i == 0 ? lo : changes[i - 1].at_s) * ms_per_s;
    const std::int64_t end_ms =
        i == changes.size() ? (hi + 1) * ms_per_s : changes[i].at_s * ms_per_s;
    const timestamp utc = local_wall_ms - offset * ms_per_s;
    if (utc >= begin_ms && utc < end_ms) return utc;
  }

  // No instant shows this wall time: it is in a gap skipped by a forward
  // change. Reading it with the offset before the gap moves it forward by
  // the gap's length (02:30 EST becomes 03:30 EDT), as .NET and most
  // libraries do.
  std::int32_t before = first_offset;
  for (const auto& change : changes) {
    const std::int64_t at_ms = change.at_s * ms_per_s;
    if (local_wall_ms >= at_ms + before * ms_per_s &&
        local_wall_ms < at_ms + change.offset_s * ms_per_s) {
      return local_wall_ms - before * ms_per_s;
    }
    before = change.offset_s;
  }
  return local_wall_ms - rules_->offset_at(local_s) * ms_per_s;
}

std::optional<timestamp> parse_time(std::string_view text,
                                    const time_zone& tz) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  // The two grammars split on the first separator: ISO dates start with
  // four digits and '-', .NET's with one or two digits and '/'.
  if (text.size() > 4 && text[4] == '-') return parse_iso(text, tz);
  return parse_dotnet(text, tz);
}

/// Howard Hinnant's `days_from_civil`
/// (https://howardhinnant.github.io/date_algorithms.html).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

} // namespace rapi
