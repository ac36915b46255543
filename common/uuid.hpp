#pragma once

#include <cstdint>
#include <string>

namespace rapi {

/// A random (version 4) UUID in lower-case 8-4-4-4-12 form. Recording
/// identifiers must be unique across every server of a cluster without
/// coordination, which 122 random bits give.
std::string make_uuid();

/// A time-ordered (version 7, RFC 9562) UUID: the 48-bit Unix time in
/// milliseconds `unix_ms`, then 74 random bits, in the same form. Unique
/// across servers like version 4 (74 random bits per millisecond), and
/// ordered by creation time as text, so records keyed by it are written
/// next to each other: RocksDB compactions then merge new recordings at the
/// end of the key range instead of rewriting every older recording's file.
std::string make_time_ordered_uuid(std::int64_t unix_ms);

} // namespace rapi
