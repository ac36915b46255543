#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "common/uuid.hpp"

using namespace rapi;

namespace {

/// 8-4-4-4-12 lower-case hex, with the given version and variant 10.
bool well_formed(const std::string& id, char version) {
  if (id.size() != 36)
    return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (c == '-'))
      return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return id[14] == version && std::string("89ab").find(id[19]) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(uuid)

BOOST_AUTO_TEST_CASE(random_uuids_are_version_4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = make_uuid();
    BOOST_TEST(well_formed(id, '4'), id);
    seen.insert(id);
  }
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(time_ordered_uuids_are_version_7_and_sort_by_time) {
  // The time is the first 48 bits, in hex (0x1a229c05400 ms, in 2026).
  const std::int64_t ms = 1'795'996'800'000;
  auto id = make_time_ordered_uuid(ms);
  BOOST_TEST(well_formed(id, '7'), id);
  BOOST_TEST(id.substr(0, 8) + id.substr(9, 4) == "01a229c05400");
  // Later milliseconds sort after, as text (the key order in RocksDB).
  std::string prev;
  for (std::int64_t t = ms; t < ms + 2000; t += 7) {
    auto next = make_time_ordered_uuid(t);
    BOOST_TEST(well_formed(next, '7'), next);
    BOOST_TEST(prev < next);
    prev = next;
  }
  // Many in one millisecond stay distinct (74 random bits).
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i)
    seen.insert(make_time_ordered_uuid(ms));
  BOOST_TEST(seen.size() == 10000u);
  // Times outside 48 bits do not break the form.
  BOOST_TEST(well_formed(make_time_ordered_uuid(-5), '7'));
}

BOOST_AUTO_TEST_SUITE_END()
