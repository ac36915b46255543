#include <boost/test/unit_test.hpp>

#include "bench/stall_probe.hpp"

#include <thread>

// The bench's idle-machine stall probe (bench/stall_probe.hpp): how gaps
// are counted, and that the probe sees a gap the test makes itself.

using rapi::bench::stall_profile;

BOOST_AUTO_TEST_SUITE(stall_probe)

BOOST_AUTO_TEST_CASE(a_gap_counts_under_every_length_it_exceeds) {
  stall_profile p;
  p.seconds = 2;
  p.add(0.3); // under every threshold: only the longest
  p.add(0.7);
  p.add(3.0);
  p.add(6.0);
  BOOST_TEST(p.longest_ms == 6.0);
  // > 0.5: 0.7, 3, 6; > 1: 3, 6; > 2: 3, 6; > 5: 6.
  BOOST_TEST(p.count[0] == 3u);
  BOOST_TEST(p.count[1] == 2u);
  BOOST_TEST(p.count[2] == 2u);
  BOOST_TEST(p.count[3] == 1u);
  BOOST_TEST(p.total_ms[0] == 9.7, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(p.total_ms[3] == 6.0);
  BOOST_TEST(p.ms_per_s(1) == 4.5, boost::test_tools::tolerance(1e-9));
  stall_profile none;
  BOOST_TEST(none.ms_per_s(0) == 0.0); // no time probed: no rate
}

BOOST_AUTO_TEST_CASE(the_loop_counts_the_gaps_between_readings) {
  // A clock that advances 0.01 ms a reading, except twice: 3 ms once
  // (a stall) and 0.04 ms once (under the floor: the loop itself).
  double t = 100;
  int reading = 0;
  auto now = [&] {
    ++reading;
    t += reading == 50 ? 3.0 : reading == 70 ? 0.04 : 0.01;
    return t;
  };
  const auto p = rapi::bench::probe_loop(now, 0.01); // 10 ms
  BOOST_TEST(p.longest_ms == 3.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(p.count[0] == 1u);
  BOOST_TEST(p.count[2] == 1u);
  BOOST_TEST(p.count[3] == 0u);
  BOOST_TEST(p.seconds >= 0.01);
  BOOST_TEST(p.seconds < 0.0101);
}

BOOST_AUTO_TEST_CASE(the_probe_sees_a_sleep_of_its_own_thread) {
  // The real clock, with the probing thread put to sleep by the clock
  // reader itself once: the 20 ms it did not run is a gap.
  int reading = 0;
  const auto origin = std::chrono::steady_clock::now();
  auto now = [&] {
    if (++reading == 1000)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - origin)
      .count();
  };
  const auto p = rapi::bench::probe_loop(now, 0.1);
  BOOST_TEST(p.longest_ms >= 20.0);
  BOOST_TEST(p.count[3] >= 1u);
  BOOST_TEST(p.seconds >= 0.1);
  const auto free_run = rapi::bench::probe_one_cpu(-1, 0.02);
  BOOST_TEST(free_run.cpu == -1);
  BOOST_TEST(free_run.seconds >= 0.02);
}

BOOST_AUTO_TEST_CASE(every_allowed_cpu_is_probed_once) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  BOOST_REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  const auto runs = rapi::bench::probe_stalls(0.02);
  BOOST_TEST(runs.size() == static_cast<std::size_t>(CPU_COUNT(&allowed)));
  for (auto& r : runs) {
    BOOST_TEST(r.cpu >= 0);
    BOOST_TEST(CPU_ISSET(r.cpu, &allowed));
    BOOST_TEST(r.seconds >= 0.02);
  }
}

BOOST_AUTO_TEST_SUITE_END()
