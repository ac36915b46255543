#pragma once

/// \file
/// What the machine itself does to a thread, with nothing of ours running:
/// a thread pinned to each CPU reads the clock in a loop, and every gap
/// between two readings longer than a few tens of microseconds is time the
/// CPU spent elsewhere (interrupts, kernel threads, the hypervisor running
/// another guest). A request that reaches a thread in such a gap waits it
/// out, whatever the server does; recording-bench reports the gaps beside
/// its latency targets (bench/performance_notes.md, fourteenth round).
/// Header-only; `stall_profile` is pure and unit-tested.

#include <array>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

namespace rapi::bench {

/// The gaps one probing thread saw, by length.
struct stall_profile {
  /// Gaps are counted and summed above each of these lengths (a 3 ms gap
  /// counts under 0.5, 1 and 2): "time lost in gaps longer than X".
  static constexpr std::array<double, 4> thresholds_ms{0.5, 1, 2, 5};

  int cpu = -1; ///< the CPU it was pinned to; -1: not pinned
  double seconds = 0;
  double longest_ms = 0;
  std::array<std::uint64_t, 4> count{};
  std::array<double, 4> total_ms{};

  void add(double gap_ms) {
    if (gap_ms > longest_ms)
      longest_ms = gap_ms;
    for (std::size_t i = 0; i < thresholds_ms.size(); ++i)
      if (gap_ms > thresholds_ms[i]) {
        ++count[i];
        total_ms[i] += gap_ms;
      }
  }

  /// Milliseconds per second spent in gaps longer than `thresholds_ms[i]`.
  double ms_per_s(std::size_t i) const {
    return seconds > 0 ? total_ms[i] / seconds : 0;
  }
};

/// Gaps shorter than this are the loop itself and the timer's own
/// interrupt, not counted (a reading of the clock takes tens of ns).
constexpr double stall_floor_ms = 0.05;

/// The probing loop: reads `now()` (milliseconds, never decreasing) until
/// `seconds` have passed, adding every gap between two readings longer
/// than `stall_floor_ms`. `now` is injected for the tests.
template <class Now>
stall_profile probe_loop(Now&& now, double seconds) {
  stall_profile p;
  const double start = now();
  const double end = start + seconds * 1000.0;
  double last = start;
  for (;;) {
    const double t = now();
    if (t - last > stall_floor_ms)
      p.add(t - last);
    last = t;
    if (t >= end)
      break;
  }
  p.seconds = (last - start) / 1000.0;
  return p;
}

/// `probe_loop` on the steady clock, on the calling thread, pinned to
/// `cpu` when it is >= 0 (and pinning is allowed).
inline stall_profile probe_one_cpu(int cpu, double seconds) {
  bool pinned = false;
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pinned = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
  }
  const auto origin = std::chrono::steady_clock::now();
  auto p = probe_loop(
    [origin] {
      return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - origin)
        .count();
    },
    seconds);
  p.cpu = pinned ? cpu : -1;
  return p;
}

/// `probe_one_cpu` on every CPU this process may run on, at the same time
/// (so that a gap on one is not another probe's doing): one profile each.
inline std::vector<stall_profile> probe_stalls(double seconds) {
  std::vector<int> cpus;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &allowed))
        cpus.push_back(c);
  }
  if (cpus.empty())
    cpus.push_back(-1);
  std::vector<stall_profile> out(cpus.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < cpus.size(); ++i)
    threads.emplace_back(
      [&out, &cpus, i, seconds] { out[i] = probe_one_cpu(cpus[i], seconds); });
  for (auto& t : threads)
    t.join();
  return out;
}

} // namespace rapi::bench
