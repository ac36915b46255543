/// Durability under `kill -9` (contract §7): a mixed write load from
/// several client threads, the server killed at random moments, restarted,
/// and every acknowledged change checked (tests/support/crash_workload.hpp).
/// `bench/crash_bench.cpp` runs the same workload for longer.
///
/// The kill moments come from a fixed seed; set RAPI_CRASH_SEED to try
/// others (a failure prints the seed it ran with).

#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "tests/integration/fixture.hpp"
#include "tests/support/crash_workload.hpp"

using namespace rapi::test;
namespace cw = rapi::test::crash;

namespace {

std::uint64_t crash_seed() {
  const char* env = std::getenv("RAPI_CRASH_SEED");
  if (env != nullptr && *env != '\0')
    return std::strtoull(env, nullptr, 10);
  return 20261130;
}

/// A short run: a few cycles of at most ~1.2 s of load each.
cw::crash_config short_run(unsigned cycles) {
  cw::crash_config c;
  c.cycles = cycles;
  c.threads = 4;
  c.agents_per_thread = 3;
  c.min_load = std::chrono::milliseconds(300);
  c.max_load = std::chrono::milliseconds(1200);
  c.seed = crash_seed();
  c.agents_file = demo_agents_file();
  return c;
}

void check(const cw::crash_result& r, unsigned cycles) {
  BOOST_TEST_MESSAGE(cw::summary(r));
  std::string first;
  for (auto& f : r.failures) {
    if (first.size() > 6000)
      break;
    first += "\n  " + f;
  }
  BOOST_TEST(r.ok(), "RAPI_CRASH_SEED=" << r.seed << ": "
                       << r.failure_count << " failed checks (data kept in "
                       << r.data_dir << "):" << first);
  BOOST_TEST(r.cycles == cycles, "seed " << r.seed);
  BOOST_TEST(r.acknowledged > 0u, "seed " << r.seed);
  BOOST_TEST(r.verified == r.acknowledged, "seed " << r.seed);
}

} // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(acknowledged_changes_survive_kill_9) {
  auto cfg = short_run(3);
  check(cw::run_crash(cfg), cfg.cycles);
}

BOOST_AUTO_TEST_CASE(sync_mode_survives_kill_9) {
  // fsync per write group: the group committer's path instead of the
  // actor's own write.
  auto dir = make_temp_dir("rapi-cfg");
  {
    FILE* f = std::fopen((dir + "/c.json").c_str(), "w");
    BOOST_REQUIRE(f != nullptr);
    std::fputs(R"({"storage": {"sync": true}})", f);
    std::fclose(f);
  }
  auto cfg = short_run(2);
  cfg.extra_args = {"--config", dir + "/c.json"};
  check(cw::run_crash(cfg), cfg.cycles);
  remove_dir(dir);
}

BOOST_AUTO_TEST_SUITE_END()
