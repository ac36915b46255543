#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rapi {

/// Milliseconds since the Unix epoch, UTC. Every time the server keeps or
/// compares is one of these; the contract renders times with millisecond
/// precision, so finer input fractions are truncated on the way in.
using timestamp = std::int64_t;

/// Appends `t` as ISO 8601 with milliseconds and a UTC offset, the one form
/// the contract allows in responses: `2026-11-30T10:15:30.123+00:00`.
void append_time(std::string& out, timestamp t);

/// Returns `t` rendered by `append_time`.
std::string format_time(timestamp t);

/// The zone in which a time without an offset is read.
///
/// Either UTC, a fixed offset (`+05:30`, `-0800`, `UTC+2`), or an IANA name
/// (`America/New_York`) resolved from the system's TZif files, so daylight
/// saving rules apply to offset-less times.
class time_zone {
public:
  /// UTC.
  time_zone();

  /// Parses a zone name; `std::nullopt` when it is neither UTC, a fixed
  /// offset nor a readable IANA zone.
  static std::optional<time_zone> parse(std::string_view name);

  /// Converts a local wall-clock time (milliseconds since the epoch, as if
  /// the wall clock were UTC) to UTC. For a wall time that happens twice
  /// (DST fall-back), the earlier instant wins; for one that never happens
  /// (spring-forward gap), the offset before the gap applies.
  timestamp local_to_utc(timestamp local_wall_ms) const;

  /// The canonical name given to `parse` ("UTC" for the default).
  const std::string& name() const { return name_; }

  struct rules; // opaque transition table for IANA zones

private:
  std::string name_ = "UTC";
  std::int32_t fixed_offset_s_ = 0;
  std::shared_ptr<const rules> rules_;
};

/// Parses a DateTimeOffset as a .NET client renders it.
///
/// Accepted: ISO 8601 / RFC 3339 with `T` or a space between date and time,
/// optional seconds fraction of any length (truncated to milliseconds), and
/// an optional offset `Z`, `+hh:mm`, `-hhmm`, `+hh` (a space may precede the
/// offset); and .NET's default `M/d/yyyy h:mm:ss tt zzz` (`tt` = AM/PM, any
/// case; 12 AM is midnight, 12 PM is noon; `zzz` optional). A time without
/// an offset is read in `tz`. Ranges are checked (month 1-12, day valid for
/// the month including leap years, hour 0-23 or 1-12 with AM/PM, minute and
/// second 0-59, offset at most 14:00). Leading/trailing spaces are ignored.
/// Returns `std::nullopt` for anything else.
std::optional<timestamp> parse_time(std::string_view text, const time_zone& tz);

/// Days since 1970-01-01 for a proleptic Gregorian date (no range check).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

} // namespace rapi
