// The time parser: parse_time in several zones, time_zone::parse, and the
// local-to-UTC conversion of IANA zones.
//
// Input: either "TZ=" ZONE "\n" then one time per line, read in ZONE
// (e.g. "TZ=America/New_York\n2026-03-08 02:30"), or one time per line,
// each read in every zone of a fixed set (e.g. "11/30/2026 10:15:30 AM").

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/time_util.hpp"
#include "tests/fuzz/fuzz_util.hpp"

using namespace rapi;
using rapi::fuzz::as_text;
using rapi::fuzz::take_line;

namespace {

constexpr std::int64_t ms_per_day = 86'400'000;
/// Offsets from UTC stay within 26 hours (the window local_to_utc searches).
constexpr std::int64_t max_shift_ms = 26 * 3'600'000LL;

/// [0001-01-01, 9999-12-31]: the years parse_time accepts.
const std::int64_t lo_ms = days_from_civil(1, 1, 1) * ms_per_day;
const std::int64_t hi_ms = days_from_civil(10000, 1, 1) * ms_per_day - 1;

const std::vector<time_zone>& zones() {
  static const std::vector<time_zone> all = [] {
    std::vector<time_zone> z;
    // Zones that do not load (no tzdata) are simply not tried.
    for (const char* name :
         {"UTC", "+05:30", "UTC-8", "GMT+14", "America/New_York",
          "Europe/London", "Australia/Lord_Howe", "America/St_Johns",
          "Pacific/Chatham", "Asia/Kolkata", "America/Sao_Paulo",
          "Africa/Casablanca", "Antarctica/Troll"})
      if (auto tz = time_zone::parse(name))
        z.push_back(*tz);
    return z;
  }();
  return all;
}

std::string show(std::string_view text, const time_zone& tz) {
  return "'" + std::string(text.substr(0, 200)) + "' in " + tz.name();
}

/// What every successful parse must satisfy.
void check_parsed(std::string_view text, const time_zone& tz, timestamp t,
                  std::optional<timestamp> utc) {
  // The contract's own rendering reads back as the same instant.
  if (t >= lo_ms && t <= hi_ms) {
    auto again = parse_time(format_time(t), time_zone{});
    FUZZ_CHECK(again && *again == t,
               show(text, tz) + " -> " + format_time(t) + " does not read back");
  }
  // A zone moves an offset-less time by at most a day and a bit, and a
  // time with an offset not at all; either way UTC reads it too.
  FUZZ_CHECK(utc.has_value(), show(text, tz) + " parses only in this zone");
  auto shift = t > *utc ? t - *utc : *utc - t;
  FUZZ_CHECK(shift <= max_shift_ms, show(text, tz) + " moved too far");
}

void check_local_to_utc(const time_zone& tz, timestamp local) {
  auto utc = tz.local_to_utc(local);
  if (local > -1'000'000'000'000'000 && local < 1'000'000'000'000'000) {
    auto shift = utc > local ? utc - local : local - utc;
    FUZZ_CHECK(shift <= max_shift_ms,
               tz.name() + ": local_to_utc(" + std::to_string(local)
                 + ") moved too far");
  }
  (void)format_time(utc);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in = as_text(data, size);

  // Any 8 bytes are also an instant: rendering and zone conversion must
  // cope with all of int64.
  if (size >= 8) {
    std::int64_t v;
    std::memcpy(&v, data, sizeof v);
    (void)format_time(v);
    for (auto& tz : zones())
      check_local_to_utc(tz, v);
  }

  std::vector<time_zone> custom;
  const std::vector<time_zone>* use = &zones();
  if (in.substr(0, 3) == "TZ=") {
    auto name = take_line(in).substr(3);
    auto tz = time_zone::parse(name);
    if (!tz)
      return 0;
    FUZZ_CHECK(tz->name() == name, "zone renamed: " + tz->name());
    // Parsing it again gives the same zone (cached IANA rules included).
    auto again = time_zone::parse(name);
    FUZZ_CHECK(again && again->local_to_utc(0) == tz->local_to_utc(0),
               "zone parsed twice differs: " + tz->name());
    check_local_to_utc(*tz, 0);
    check_local_to_utc(*tz, 1'764'497'730'000);
    custom.push_back(*tz);
    use = &custom;
  }

  const time_zone utc_zone;
  for (int lines = 0; lines < 8 && !in.empty(); ++lines) {
    auto text = take_line(in);
    auto in_utc = parse_time(text, utc_zone);
    for (auto& tz : *use) {
      auto t = parse_time(text, tz);
      if (t)
        check_parsed(text, tz, *t, in_utc);
      else
        FUZZ_CHECK(!in_utc, show(text, tz) + " parses only in UTC");
    }
  }
  return 0;
}
