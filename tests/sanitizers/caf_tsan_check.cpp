/// Checks tests/sanitizers/caf_tsan.cpp in the TSan build (ctests
/// caf_tsan_clean and caf_tsan_race, run by scripts/sanitize.sh tsan).
///
///   caf_tsan_check clean   hands data between threads only through CAF:
///                          messages from several threads, actors moving
///                          between workers, actors ending; TSan must stay
///                          silent (else the annotations miss an order CAF
///                          guarantees, or CAF is not the 0.17 they model).
///   caf_tsan_check race    two actors write one plain variable at the same
///                          time; TSan must report it (else the annotations
///                          order more than CAF does and would hide races).

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

namespace {

using bump_atom = caf::atom_constant<caf::atom("bump")>;
using meet_atom = caf::atom_constant<caf::atom("meet")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

constexpr int actors = 8;
constexpr int senders = 4;
constexpr int messages_per_sender = 400;

/// Filled by a sender before it sends the address; read and freed by the
/// actor: everything a sender did before sending is ordered before the
/// handler, not just the message itself.
struct parcel {
  std::vector<std::uint64_t> values;
  std::uint64_t sum = 0;
};

std::atomic<int> bad_parcels{0};

/// Plain (non-atomic) state, touched from whichever worker runs the actor.
struct counter_state {
  std::uint64_t received = 0;
  std::uint64_t total = 0;
  std::uint64_t ticks = 0;
  std::string last;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
    [=](bump_atom, const std::string& text, std::uint64_t address) {
      std::unique_ptr<parcel> p{reinterpret_cast<parcel*>(address)};
      std::uint64_t sum = 0;
      for (auto v : p->values)
        sum += v;
      if (sum != p->sum || text.size() != p->values.size())
        ++bad_parcels;
      auto& st = self->state;
      ++st.received;
      st.total += sum;
      st.last = text;
      // Timers: one fires (through CAF's clock thread), one is still
      // pending when the actor ends and is dropped by the clock.
      if (st.received == 1) {
        self->delayed_send(self, std::chrono::milliseconds(1),
                           tick_atom::value, std::string(40, 't'));
        self->delayed_send(self, std::chrono::hours(1), tick_atom::value,
                           std::string(40, 'u'));
      }
    },
    [=](tick_atom, const std::string& text) {
      self->state.ticks += text.size();
    },
  };
}

int run_clean() {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  std::vector<caf::actor> targets;
  for (int i = 0; i < actors; ++i)
    targets.push_back(sys.spawn(counter));
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      for (int m = 0; m < messages_per_sender; ++m) {
        auto p = std::make_unique<parcel>();
        for (int k = 0; k <= m % 7; ++k) {
          p->values.push_back(static_cast<std::uint64_t>(s * 1000 + m + k));
          p->sum += p->values.back();
        }
        std::string text(p->values.size(), static_cast<char>('a' + s));
        auto address = reinterpret_cast<std::uint64_t>(p.release());
        caf::anon_send(targets[(s + m) % actors], bump_atom::value,
                       std::move(text), address);
      }
    });
  for (auto& t : threads)
    t.join();
  for (auto& a : targets)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  targets.clear();
  if (bad_parcels.load() != 0) {
    std::fprintf(stderr, "caf_tsan_check: %d parcels arrived damaged\n",
                 bad_parcels.load());
    return 1;
  }
  return 0;
}

/// Written by two actors at once: the race TSan must report.
std::uint64_t shared_total = 0;
std::atomic<int> met{0};

caf::behavior racer(caf::event_based_actor*) {
  return {
    [](meet_atom) {
      shared_total += 1;
      // Both handlers run at once, on the two workers; relaxed atomics
      // order nothing, so only CAF could order the two writes (it does
      // not: two actors, two messages from main).
      met.fetch_add(1, std::memory_order_relaxed);
      while (met.load(std::memory_order_relaxed) < 2)
        std::this_thread::yield();
    },
  };
}

int run_race() {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto a = sys.spawn(racer);
  auto b = sys.spawn(racer);
  caf::anon_send(a, meet_atom::value);
  caf::anon_send(b, meet_atom::value);
  while (met.load(std::memory_order_relaxed) < 2)
    std::this_thread::yield();
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "clean") == 0)
    return run_clean();
  if (argc == 2 && std::strcmp(argv[1], "race") == 0)
    return run_race();
  std::fprintf(stderr, "usage: caf_tsan_check clean|race\n");
  return 2;
}
