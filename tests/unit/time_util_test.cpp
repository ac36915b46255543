#include <boost/test/unit_test.hpp>

#include "common/time_util.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace {

using rapi::format_time;
using rapi::parse_time;
using rapi::time_zone;
using rapi::timestamp;

/// Renders a parse result so failures show the instant, not just "false".
std::string parsed(std::string_view text, const time_zone& tz = time_zone()) {
  const auto t = parse_time(text, tz);
  return t ? format_time(*t) : std::string("rejected");
}

/// Zones the tests need; failing loudly here beats a confusing mismatch.
time_zone zone(std::string_view name) {
  const auto tz = time_zone::parse(name);
  BOOST_REQUIRE_MESSAGE(tz, "zone not parsed: " << name);
  return *tz;
}

} // namespace

BOOST_AUTO_TEST_SUITE(time_util)

BOOST_AUTO_TEST_CASE(formats_epoch_and_milliseconds) {
  BOOST_TEST(format_time(0) == "1970-01-01T00:00:00.000+00:00");
  BOOST_TEST(format_time(1) == "1970-01-01T00:00:00.001+00:00");
  BOOST_TEST(format_time(1'796'033'730'123) ==
             "2026-11-30T10:15:30.123+00:00");
  std::string out = "at ";
  rapi::append_time(out, 86'400'000);
  BOOST_TEST(out == "at 1970-01-02T00:00:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(formats_times_before_1970) {
  BOOST_TEST(format_time(-1) == "1969-12-31T23:59:59.999+00:00");
  BOOST_TEST(format_time(-1000) == "1969-12-31T23:59:59.000+00:00");
  BOOST_TEST(format_time(-86'400'000) == "1969-12-31T00:00:00.000+00:00");
  BOOST_TEST(format_time(-14'182'940'000) ==
             "1969-07-20T20:17:40.000+00:00");
}

BOOST_AUTO_TEST_CASE(formats_the_full_year_range) {
  BOOST_TEST(format_time(-62'135'596'800'000) ==
             "0001-01-01T00:00:00.000+00:00");
  BOOST_TEST(format_time(253'402'300'799'999) ==
             "9999-12-31T23:59:59.999+00:00");
  // Past four-digit years (formatted another way than 0000-9999).
  BOOST_TEST(format_time(253'402'300'800'000) ==
             "10000-01-01T00:00:00.000+00:00");
  BOOST_TEST(format_time(-62'135'596'800'001) ==
             "0000-12-31T23:59:59.999+00:00");
  BOOST_TEST(format_time(-62'198'755'200'000) ==
             "-0001-01-01T00:00:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(format_and_parse_round_trip) {
  const timestamp samples[] = {0,
                               1,
                               -1,
                               999,
                               -999,
                               1'796'033'730'123,
                               -14'182'940'001,
                               951'782'400'000, // 2000-02-29
                               -62'135'596'800'000,
                               253'402'300'799'999};
  for (const timestamp t : samples) {
    const std::string text = format_time(t);
    BOOST_TEST_CONTEXT(text) {
      const auto back = parse_time(text, time_zone());
      BOOST_REQUIRE(back);
      BOOST_TEST(*back == t);
    }
  }
}

BOOST_AUTO_TEST_CASE(days_from_civil_matches_known_dates) {
  BOOST_TEST(rapi::days_from_civil(1970, 1, 1) == 0);
  BOOST_TEST(rapi::days_from_civil(1969, 12, 31) == -1);
  BOOST_TEST(rapi::days_from_civil(2000, 3, 1) == 11'017);
  BOOST_TEST(rapi::days_from_civil(1, 1, 1) == -719'162);
}

BOOST_AUTO_TEST_CASE(parses_iso_8601_forms) {
  BOOST_TEST(parsed("2026-11-30T10:15:30Z") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30t10:15:30z") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30.1234567-05:00") ==
             "2026-11-30T15:15:30.123+00:00");
  BOOST_TEST(parsed("2026-11-30 10:15:30 -05:00") ==
             "2026-11-30T15:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30 10:15:30-05:00") ==
             "2026-11-30T15:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30 Z") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30+0530") ==
             "2026-11-30T04:45:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30+05") ==
             "2026-11-30T05:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30+14:00") ==
             "2026-11-29T20:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30-14:00") ==
             "2026-12-01T00:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15Z") == "2026-11-30T10:15:00.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30") == "2026-11-30T00:00:00.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30.5Z") ==
             "2026-11-30T10:15:30.500+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30.12Z") ==
             "2026-11-30T10:15:30.120+00:00");
  BOOST_TEST(parsed("2026-11-30T23:59:59.999999999999Z") ==
             "2026-11-30T23:59:59.999+00:00");
}

BOOST_AUTO_TEST_CASE(ignores_surrounding_whitespace) {
  BOOST_TEST(parsed("  2026-11-30T10:15:30Z\t\r\n") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30 ") ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed(" 11/30/2026 10:15:30 AM -05:00 ") ==
             "2026-11-30T15:15:30.000+00:00");
}

BOOST_AUTO_TEST_CASE(truncates_fractions_to_milliseconds) {
  BOOST_TEST(parsed("2026-11-30T10:15:30.1239Z") ==
             "2026-11-30T10:15:30.123+00:00");
  BOOST_TEST(parsed("2026-11-30T10:15:30.9999999Z") ==
             "2026-11-30T10:15:30.999+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30.9999999 AM +00:00") ==
             "2026-11-30T10:15:30.999+00:00");
  BOOST_TEST(parsed("1969-12-31T23:59:59.9999Z") ==
             "1969-12-31T23:59:59.999+00:00");
}

BOOST_AUTO_TEST_CASE(applies_offsets_across_date_boundaries) {
  BOOST_TEST(parsed("2026-01-01T00:30:00+01:00") ==
             "2025-12-31T23:30:00.000+00:00");
  BOOST_TEST(parsed("2025-12-31T23:30:00-01:00") ==
             "2026-01-01T00:30:00.000+00:00");
  BOOST_TEST(parsed("2024-03-01T00:00:00+00:01") ==
             "2024-02-29T23:59:00.000+00:00");
  BOOST_TEST(parsed("1970-01-01T00:00:00+00:00:00") == "rejected");
  BOOST_TEST(parsed("1970-01-01T00:00:00.000+01:00") ==
             "1969-12-31T23:00:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(parses_dotnet_default_format) {
  BOOST_TEST(parsed("11/30/2026 10:15:30 AM -05:00") ==
             "2026-11-30T15:15:30.000+00:00");
  BOOST_TEST(parsed("2/29/2024 12:00:00 AM +00:00") ==
             "2024-02-29T00:00:00.000+00:00");
  BOOST_TEST(parsed("2/29/2024 12:30:00 PM") ==
             "2024-02-29T12:30:00.000+00:00");
  BOOST_TEST(parsed("02/09/2024 09:05:07 pm +01:00") ==
             "2024-02-09T20:05:07.000+00:00");
  BOOST_TEST(parsed("2/9/2024 9:05:07 aM") == "2024-02-09T09:05:07.000+00:00");
  BOOST_TEST(parsed("11/30/2026 22:15:30 +01:00") ==
             "2026-11-30T21:15:30.000+00:00");
  BOOST_TEST(parsed("11/30/2026 0:15:30") == "2026-11-30T00:15:30.000+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30 PM +0530") ==
             "2026-11-30T16:45:30.000+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30 PM Z") ==
             "2026-11-30T22:15:30.000+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30.25 PM -05:00") ==
             "2026-12-01T03:15:30.250+00:00");
}

BOOST_AUTO_TEST_CASE(maps_twelve_hour_clock_edges) {
  BOOST_TEST(parsed("1/1/2026 12:00:00 AM") ==
             "2026-01-01T00:00:00.000+00:00");
  BOOST_TEST(parsed("1/1/2026 12:59:59 AM") ==
             "2026-01-01T00:59:59.000+00:00");
  BOOST_TEST(parsed("1/1/2026 1:00:00 AM") == "2026-01-01T01:00:00.000+00:00");
  BOOST_TEST(parsed("1/1/2026 11:59:59 AM") ==
             "2026-01-01T11:59:59.000+00:00");
  BOOST_TEST(parsed("1/1/2026 12:00:00 PM") ==
             "2026-01-01T12:00:00.000+00:00");
  BOOST_TEST(parsed("1/1/2026 12:59:59 PM") ==
             "2026-01-01T12:59:59.000+00:00");
  BOOST_TEST(parsed("1/1/2026 1:00:00 PM") == "2026-01-01T13:00:00.000+00:00");
  BOOST_TEST(parsed("1/1/2026 11:59:59 PM") ==
             "2026-01-01T23:59:59.000+00:00");
}

BOOST_AUTO_TEST_CASE(validates_leap_days) {
  BOOST_TEST(parsed("2024-02-29T00:00:00Z") ==
             "2024-02-29T00:00:00.000+00:00");
  BOOST_TEST(parsed("2000-02-29T00:00:00Z") ==
             "2000-02-29T00:00:00.000+00:00");
  BOOST_TEST(parsed("2023-02-29T00:00:00Z") == "rejected");
  BOOST_TEST(parsed("2100-02-29T00:00:00Z") == "rejected");
  BOOST_TEST(parsed("2/29/2000 1:00:00 AM") ==
             "2000-02-29T01:00:00.000+00:00");
  BOOST_TEST(parsed("2/29/2023 1:00:00 AM") == "rejected");
  BOOST_TEST(parsed("2/29/2100 1:00:00 AM") == "rejected");
  BOOST_TEST(parsed("2023-02-28") == "2023-02-28T00:00:00.000+00:00");
  BOOST_TEST(parsed("2026-04-31") == "rejected");
  BOOST_TEST(parsed("2026-12-31") == "2026-12-31T00:00:00.000+00:00");
  BOOST_TEST(parsed("2026-12-32") == "rejected");
}

BOOST_AUTO_TEST_CASE(rejects_malformed_text) {
  const char* bad[] = {
      "",
      "   ",
      "garbage",
      "1234567890",
      "2026",
      "2026-11",
      "2026-11-30T",
      "2026-11-30T10",
      "2026-11-30T10:15:30Zjunk",
      "2026-11-30T10:15:30 junk",
      "2026-11-30T10:15:30.Z",
      "2026-11-30T10:15:30.123.4Z",
      "2026-11-30X10:15:30Z",
      "2026-11-30  10:15:30Z",
      "2026-11-30T10:15:30  Z",
      "26-11-30T10:15:30Z",
      "02026-11-30T10:15:30Z",
      "2026-1-30T10:15:30Z",
      "2026-11-3T10:15:30Z",
      "2026-11-30T1:15:30Z",
      "2026-11-30T10:5:30Z",
      "2026-11-30T10:15:3Z",
      "0000-01-01T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "2026-11-31T00:00:00Z",
      "2026-11-30T24:00:00Z",
      "2026-11-30T10:60:00Z",
      "2026-11-30T10:15:60Z",
      "2026-11-30T10:15:30+15:00",
      "2026-11-30T10:15:30-15:00",
      "2026-11-30T10:15:30+14:01",
      "2026-11-30T10:15:30+05:60",
      "2026-11-30T10:15:30+5:00",
      "2026-11-30T10:15:30+05:",
      "2026-11-30T10:15:30+053",
      "2026-11-30T10:15:30+05:30:00",
      "2026-11-30T10:15:30UTC",
      "2026-11-30T10:15:30 PM",
      "2026-11-30Z",
      "11/30/2026 13:00:00 PM",
      "11/30/2026 0:00:00 AM",
      "11/30/2026 24:00:00",
      "11/30/2026 10:15:60 AM",
      "11/30/2026 10:15:30 XM",
      "11/30/2026 10:15:30 A",
      "11/30/2026 10:15:30 AM -05:00 junk",
      "11/30/2026 10:15:30 AM +15:00",
      "11/30/2026",
      "11/30/26 10:15:30 AM",
      "13/30/2026 10:15:30 AM",
      "0/30/2026 10:15:30 AM",
      "11/31/2026 10:15:30 AM",
      "11/30/2026T10:15:30",
      "111/30/2026 10:15:30 AM",
      "-2026-11-30T10:15:30Z",
  };
  for (const char* text : bad) {
    BOOST_TEST(!parse_time(text, time_zone()).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(parses_utc_zone_names) {
  BOOST_TEST(time_zone().name() == "UTC");
  for (const char* name : {"UTC", "utc", "Z", "z", "GMT", "gmt"}) {
    const auto tz = time_zone::parse(name);
    BOOST_REQUIRE_MESSAGE(tz, name);
    BOOST_TEST(tz->name() == name);
    BOOST_TEST(tz->local_to_utc(12'345) == 12'345);
  }
}

BOOST_AUTO_TEST_CASE(parses_fixed_offset_zones) {
  struct sample {
    const char* name;
    std::int64_t offset_min;
  };
  const sample samples[] = {
      {"+05:30", 330},     {"-0800", -480},    {"+02", 120},
      {"UTC+2", 120},      {"UTC-05:00", -300}, {"GMT+14", 840},
      {"utc-0930", -570},  {"-14:00", -840},   {"+00:00", 0},
  };
  for (const auto& s : samples) {
    BOOST_TEST_CONTEXT(s.name) {
      const time_zone tz = zone(s.name);
      BOOST_TEST(tz.name() == s.name);
      BOOST_TEST(tz.local_to_utc(0) == -s.offset_min * 60'000);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_unknown_zone_names) {
  const char* bad[] = {"",
                       "Mars/Olympus_Mons",
                       "America/Nowhere",
                       "America",
                       "america/new_york_x",
                       "../../etc/passwd",
                       "America/../Europe/Berlin",
                       "/usr/share/zoneinfo/UTC",
                       "America/New_York/",
                       "Europe/Berlin\n",
                       "Europe Berlin",
                       "+15:00",
                       "UTC+15",
                       "UTC+5:3",
                       "+",
                       "UTC+",
                       "+05:30x",
                       "zone.tab"};
  for (const char* name : bad) {
    BOOST_TEST(!time_zone::parse(name).has_value(), "zone: " << name);
  }
}

BOOST_AUTO_TEST_CASE(reads_offsetless_times_in_fixed_zones) {
  const time_zone tz = zone("+05:30");
  BOOST_TEST(parsed("2026-11-30T10:15:30", tz) ==
             "2026-11-30T04:45:30.000+00:00");
  BOOST_TEST(parsed("2026-11-30", tz) == "2026-11-29T18:30:00.000+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30 AM", tz) ==
             "2026-11-30T04:45:30.000+00:00");
  // An explicit offset wins over the zone.
  BOOST_TEST(parsed("2026-11-30T10:15:30Z", tz) ==
             "2026-11-30T10:15:30.000+00:00");
  BOOST_TEST(parsed("11/30/2026 10:15:30 AM -05:00", tz) ==
             "2026-11-30T15:15:30.000+00:00");
}

BOOST_AUTO_TEST_CASE(reads_kolkata_as_a_fixed_offset) {
  const time_zone tz = zone("Asia/Kolkata");
  BOOST_TEST(tz.name() == "Asia/Kolkata");
  BOOST_TEST(parsed("2026-01-15T12:00:00", tz) ==
             "2026-01-15T06:30:00.000+00:00");
  BOOST_TEST(parsed("2026-07-15T12:00:00", tz) ==
             "2026-07-15T06:30:00.000+00:00");
  BOOST_TEST(parsed("2100-07-15T12:00:00", tz) ==
             "2100-07-15T06:30:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(applies_new_york_standard_and_daylight_time) {
  const time_zone tz = zone("America/New_York");
  BOOST_TEST(tz.name() == "America/New_York");
  BOOST_TEST(parsed("2026-01-15T10:00:00", tz) ==
             "2026-01-15T15:00:00.000+00:00");
  BOOST_TEST(parsed("2026-07-01T10:00:00", tz) ==
             "2026-07-01T14:00:00.000+00:00");
  BOOST_TEST(parsed("7/1/2026 10:00:00 AM", tz) ==
             "2026-07-01T14:00:00.000+00:00");
  BOOST_TEST(parsed("2026-07-01T10:00:00.250", tz) ==
             "2026-07-01T14:00:00.250+00:00");
  // Explicit offsets ignore the zone.
  BOOST_TEST(parsed("2026-07-01T10:00:00-05:00", tz) ==
             "2026-07-01T15:00:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(resolves_new_york_gap_and_overlap) {
  const time_zone tz = zone("America/New_York");
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
  BOOST_TEST(parsed("2026-03-08T01:59:59", tz) ==
             "2026-03-08T06:59:59.000+00:00");
  BOOST_TEST(parsed("2026-03-08T02:00:00", tz) ==
             "2026-03-08T07:00:00.000+00:00");
  BOOST_TEST(parsed("2026-03-08T02:30:00", tz) ==
             "2026-03-08T07:30:00.000+00:00");
  BOOST_TEST(parsed("2026-03-08T03:00:00", tz) ==
             "2026-03-08T07:00:00.000+00:00");
  // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:xx happens twice.
  BOOST_TEST(parsed("2026-11-01T00:59:59", tz) ==
             "2026-11-01T04:59:59.000+00:00");
  BOOST_TEST(parsed("2026-11-01T01:00:00", tz) ==
             "2026-11-01T05:00:00.000+00:00");
  BOOST_TEST(parsed("2026-11-01T01:30:00", tz) ==
             "2026-11-01T05:30:00.000+00:00");
  BOOST_TEST(parsed("2026-11-01T01:59:59.999", tz) ==
             "2026-11-01T05:59:59.999+00:00");
  BOOST_TEST(parsed("2026-11-01T02:00:00", tz) ==
             "2026-11-01T07:00:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(uses_transition_table_for_history) {
  const time_zone tz = zone("America/New_York");
  // Year-round daylight time during the 1974 energy crisis.
  BOOST_TEST(parsed("1974-01-15T12:00:00", tz) ==
             "1974-01-15T16:00:00.000+00:00");
  // Local mean time before railway time (UTC-4:56:02).
  BOOST_TEST(parsed("1800-01-01T00:00:00", tz) ==
             "1800-01-01T04:56:02.000+00:00");
}

BOOST_AUTO_TEST_CASE(uses_footer_rule_for_far_future) {
  // Past any explicit transition in fat and slim tzdata builds alike.
  const time_zone ny = zone("America/New_York");
  BOOST_TEST(parsed("2100-01-15T12:00:00", ny) ==
             "2100-01-15T17:00:00.000+00:00");
  BOOST_TEST(parsed("2100-07-01T12:00:00", ny) ==
             "2100-07-01T16:00:00.000+00:00");
  BOOST_TEST(parsed("2100-03-14T01:59:00", ny) ==
             "2100-03-14T06:59:00.000+00:00");
  BOOST_TEST(parsed("2100-03-14T02:30:00", ny) ==
             "2100-03-14T07:30:00.000+00:00");
  BOOST_TEST(parsed("2100-03-14T03:00:00", ny) ==
             "2100-03-14T07:00:00.000+00:00");
  BOOST_TEST(parsed("2100-11-07T01:30:00", ny) ==
             "2100-11-07T05:30:00.000+00:00");
  BOOST_TEST(parsed("2100-11-07T02:00:00", ny) ==
             "2100-11-07T07:00:00.000+00:00");

  // Last-Sunday rules with a non-default time (`M3.5.0,M10.5.0/3`).
  const time_zone berlin = zone("Europe/Berlin");
  BOOST_TEST(parsed("2100-03-27T12:00:00", berlin) ==
             "2100-03-27T11:00:00.000+00:00");
  BOOST_TEST(parsed("2100-03-28T12:00:00", berlin) ==
             "2100-03-28T10:00:00.000+00:00");

  // Southern hemisphere: DST spans the new year.
  const time_zone sydney = zone("Australia/Sydney");
  BOOST_TEST(parsed("2100-01-15T12:00:00", sydney) ==
             "2100-01-15T01:00:00.000+00:00");
  BOOST_TEST(parsed("2100-07-15T12:00:00", sydney) ==
             "2100-07-15T02:00:00.000+00:00");
  // 03:00 AEDT falls back to 02:00 AEST; the earlier (AEDT) reading wins.
  BOOST_TEST(parsed("2100-04-04T02:30:00", sydney) ==
             "2100-04-03T15:30:00.000+00:00");
}

BOOST_AUTO_TEST_CASE(resolves_berlin_transitions) {
  const time_zone tz = zone("Europe/Berlin");
  BOOST_TEST(parsed("2026-03-29T01:59:00", tz) ==
             "2026-03-29T00:59:00.000+00:00");
  BOOST_TEST(parsed("2026-03-29T02:30:00", tz) ==
             "2026-03-29T01:30:00.000+00:00");
  BOOST_TEST(parsed("2026-10-25T02:30:00", tz) ==
             "2026-10-25T00:30:00.000+00:00");
  BOOST_TEST(parsed("2026-10-25T03:00:00", tz) ==
             "2026-10-25T02:00:00.000+00:00");
}

BOOST_AUTO_TEST_SUITE_END()
