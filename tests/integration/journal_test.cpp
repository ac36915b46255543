/// The write-behind journal (storage/journal_store.hpp) over a real RocksDB
/// database: reads see every acknowledged write before it is folded; a
/// process that dies (tests/support/journal_child, which `_exit`s with
/// nothing closed) loses nothing it acknowledged; the ring wraps; a torn or
/// damaged record ends the replay where it is; and a store that refuses
/// writes turns the journal's writes away rather than hanging them.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cstdlib>
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/journal_store.hpp"
#include "storage/memory_store.hpp"
#include "tests/support/server_process.hpp"

using namespace rapi;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t small_ring = 64 * 1024;

std::unique_ptr<kv_store> open_db(const std::string& dir) {
  rocksdb_options o;
  o.min_free_bytes = 0;
  std::string error;
  auto db = open_rocksdb(dir, o, error);
  BOOST_REQUIRE_MESSAGE(db, error);
  return db;
}

journal_options options(std::uint64_t ring,
                        std::chrono::milliseconds fold = 1h) {
  journal_options o;
  o.capacity_bytes = ring;
  o.fold_interval = fold;
  return o;
}

std::unique_ptr<journal_store> open_journal(const std::string& dir,
                                            kv_store& inner,
                                            const journal_options& o,
                                            journal_replay& replayed) {
  std::string error;
  auto j = journal_store::open(dir, inner, o, replayed, error);
  BOOST_REQUIRE_MESSAGE(j, error);
  return j;
}

write_batch puts(std::initializer_list<std::pair<std::string, std::string>> kv) {
  write_batch b;
  for (auto& [k, v] : kv)
    b.put(k, v);
  return b;
}

std::optional<std::string> read(kv_store& s, const std::string& key) {
  storage_status st;
  auto v = s.get(key, st);
  BOOST_REQUIRE(st.ok());
  return v;
}

std::map<std::string, std::string> everything(kv_store& s) {
  std::map<std::string, std::string> out;
  auto st = s.scan("", "", [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  BOOST_REQUIRE_MESSAGE(st.ok(), st.message);
  return out;
}

/// Runs tests/support/journal_child: it writes `scenario` through a
/// journal over RocksDB in `dir` and dies without closing either, as
/// `kill -9` would leave them.
void in_a_process_that_dies(const std::string& dir, std::uint64_t ring,
                            const std::string& scenario) {
  auto cmd = std::string(RAPI_JOURNAL_CHILD) + " '" + dir + "' "
             + std::to_string(ring) + " " + scenario;
  int status = std::system(cmd.c_str());
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                        cmd << ": exit status " << status);
}

/// Where the journal's first record starts in its file, and its size.
constexpr long first_record = 4096;
std::uint64_t record_bytes(std::size_t key, std::size_t value) {
  return 24 + ((4 + 9 + key + value + 7) & ~std::size_t{7});
}

void poke(const std::string& file, long at, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(at);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The folding thread's id (the thread named `rapi-journal`), 0 while
/// there is none.
pid_t journal_thread() {
  pid_t found = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name
                         + "/comm");
      std::string name;
      if (std::getline(comm, name) && name == "rapi-journal")
        found = static_cast<pid_t>(std::atol(e->d_name));
    }
    ::closedir(d);
  }
  return found;
}

/// Polls until the folding thread runs under `policy` (its first fold
/// writing `fill` meanwhile, if given); false at the deadline.
bool journal_thread_reaches(int policy,
                            const std::function<void()>& fill = {}) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto tid = journal_thread(); tid != 0 && sched_getscheduler(tid) == policy)
      return true;
    if (fill)
      fill();
    else
      std::this_thread::sleep_for(1ms);
  }
  return false;
}

/// Polls until `j` folded at least once; false at the deadline.
bool folded_once(journal_store& j) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (j.written().folds == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  return j.written().folds >= 1u;
}

/// Every write into it waits at a gate the test opens.
struct gated_store final : forwarding_store {
  using forwarding_store::forwarding_store;
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0; ///< writes that reached the gate, in all
  int allowed = 0; ///< writes let through, in all
  bool open = false;
  storage_status pass() {
    std::unique_lock<std::mutex> lk(m);
    const int me = arrived++;
    cv.notify_all();
    cv.wait(lk, [&] { return open || me < allowed; });
    return {};
  }
  storage_status write(const write_batch& b) override {
    pass();
    return inner_.write(b);
  }
  storage_status write_views(const write_view& b) override {
    pass();
    return inner_.write_views(b);
  }
  /// Waits until `n` writes reached the gate; false at the deadline.
  bool reached(int n) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, 10s, [&] { return arrived >= n; });
  }
  void let_through(int n) {
    std::lock_guard<std::mutex> lk(m);
    allowed = n;
    cv.notify_all();
  }
  void open_up() {
    std::lock_guard<std::mutex> lk(m);
    open = true;
    cv.notify_all();
  }
};
} // namespace

BOOST_AUTO_TEST_SUITE(journal)

BOOST_AUTO_TEST_CASE(folds_wait_at_idle_priority_and_a_full_ring_is_folded_at_the_usual) {
  memory_store inner;
  journal_replay rep;
  auto dir = test::make_temp_dir("rapi-journal");
  auto j = open_journal(dir, inner, options(small_ring, 300ms), rep);
  struct cleanup {
    std::unique_ptr<journal_store>& j;
    std::string dir;
    ~cleanup() {
      j.reset();
      test::remove_dir(dir);
    }
  } done{j, dir};
  if (!idle_priority_is_reversible()) {
    // Not allowed back: never idle (the next test case's subject).
    BOOST_TEST(!j->folds_at_idle_priority());
    BOOST_TEST(journal_thread_reaches(SCHED_OTHER));
    return;
  }
  BOOST_TEST(j->folds_at_idle_priority());
  BOOST_TEST(journal_thread_reaches(SCHED_IDLE));
  // Writes filling half the ring ask for a fold: the thread comes back to
  // its usual priority for it...
  const std::string value(1000, 'v');
  int n = 0;
  BOOST_TEST(journal_thread_reaches(SCHED_OTHER, [&] {
    BOOST_REQUIRE(j->write(puts({{"k" + std::to_string(n++ % 50), value}})).ok());
  }));
  BOOST_TEST(folded_once(*j));
  // ...and the next periodic fold, which nobody asked for, at idle again.
  BOOST_TEST(journal_thread_reaches(SCHED_IDLE));
  BOOST_TEST(read(*j, "k0").value_or("") == value);
}

BOOST_AUTO_TEST_CASE(a_periodic_fold_someone_waits_for_goes_on_at_the_usual_priority) {
  // At idle priority a fold gets a CPU only when one is idle: on a busy
  // server a scan (a recordings query) waiting for the rest of a periodic
  // fold waited 10-50 ms. Once a thread waits, the fold comes back to the
  // usual priority.
  if (!idle_priority_is_reversible()) {
    BOOST_TEST_MESSAGE("idle priority is not reversible here: nothing to test");
    return;
  }
  memory_store mem;
  gated_store inner(mem);
  // Every key written before the first periodic fold, even under TSan.
  auto o = options(1 << 20, 200ms);
  o.fold_slice_bytes = 1000;
  journal_replay rep;
  auto dir = test::make_temp_dir("rapi-journal");
  auto j = open_journal(dir, inner, o, rep);
  const std::string value(995, 'v'); // a slice per key
  for (int i = 0; i < 10; ++i)
    BOOST_REQUIRE(j->write(puts({{"k" + std::to_string(i), value}})).ok());
  // The periodic fold, at idle priority, holds its first slice at the gate.
  BOOST_REQUIRE(inner.reached(1));
  const pid_t folder = journal_thread();
  BOOST_TEST(sched_getscheduler(folder) == SCHED_IDLE);
  // A thread comes to wait for it (blocked on the journal's fold lock).
  std::atomic<pid_t> waiter_tid{0};
  storage_status waited;
  std::thread waiter([&] {
    waiter_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    waited = j->fold();
  });
  auto blocked = [&] {
    std::ifstream stat("/proc/self/task/" + std::to_string(waiter_tid.load())
                       + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)),
                     std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size()
           && text[close + 2] == 'S';
  };
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((waiter_tid == 0 || !blocked())
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  // The next slice comes at the usual priority.
  inner.let_through(1);
  BOOST_REQUIRE(inner.reached(2));
  BOOST_TEST(sched_getscheduler(folder) == SCHED_OTHER);
  inner.open_up();
  waiter.join();
  BOOST_TEST(waited.ok());
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(read(mem, "k" + std::to_string(i)).value_or("") == value);
  // The next periodic fold, which nobody waits for, is at idle again.
  BOOST_TEST(journal_thread_reaches(SCHED_IDLE));
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(where_the_thread_could_not_come_back_folds_never_go_idle) {
  // As the service's own user would be (no CAP_SYS_NICE, RLIMIT_NICE 0):
  // a child process that dropped them. Allowed nice 0, it may come back.
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("not root: cannot drop privileges to check");
    return;
  }
  for (rlim_t nice_limit : {rlim_t{0}, rlim_t{20}}) {
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      rlimit lim{nice_limit, nice_limit};
      if (::setrlimit(RLIMIT_NICE, &lim) != 0)
        ::_exit(20); // raising it needs CAP_SYS_RESOURCE
      if (::setgid(65534) != 0 || ::setuid(65534) != 0)
        ::_exit(10);
      const bool reversible = idle_priority_is_reversible();
      if (reversible != (nice_limit == 20))
        ::_exit(11);
      memory_store inner;
      journal_replay rep;
      std::string error;
      auto dir = "/tmp/rapi-journal-child-" + std::to_string(::getpid());
      ::mkdir(dir.c_str(), 0700);
      auto j = journal_store::open(dir, inner, options(small_ring), rep,
                                   error);
      if (!j)
        ::_exit(12);
      if (j->folds_at_idle_priority() != reversible)
        ::_exit(13);
      if (!journal_thread_reaches(reversible ? SCHED_IDLE : SCHED_OTHER))
        ::_exit(14);
      j.reset();
      ::unlink((dir + "/journal").c_str());
      ::rmdir(dir.c_str());
      ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 20) {
      BOOST_TEST_MESSAGE("RLIMIT_NICE " << nice_limit
                                        << " not settable here: skipped");
      continue;
    }
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
               "RLIMIT_NICE " << nice_limit << ": child exit status "
                              << status);
  }
}

BOOST_AUTO_TEST_CASE(a_journal_told_not_to_fold_at_idle_priority_never_does) {
  memory_store inner;
  journal_replay rep;
  auto o = options(small_ring, 50ms);
  o.idle_folds = false;
  auto dir = test::make_temp_dir("rapi-journal");
  auto j = open_journal(dir, inner, o, rep);
  BOOST_TEST(!j->folds_at_idle_priority());
  BOOST_TEST(journal_thread_reaches(SCHED_OTHER));
  BOOST_REQUIRE(j->write(puts({{"a", "1"}})).ok());
  BOOST_TEST(folded_once(*j));
  BOOST_TEST(sched_getscheduler(journal_thread()) == SCHED_OTHER);
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(reads_see_writes_before_they_are_folded) {
  auto dir = test::make_temp_dir("rapi-journal");
  {
    auto db = open_db(dir);
    BOOST_REQUIRE(db->write(puts({{"c", "3"}, {"d", "4"}})).ok());
    journal_replay rep;
    auto j = open_journal(dir, *db, options(small_ring), rep);
    write_batch b = puts({{"a", "1"}, {"b", "2"}});
    b.erase("c");
    BOOST_REQUIRE(j->write(b).ok());
    // Journaled, not yet in RocksDB, read all the same.
    BOOST_TEST(!read(*db, "a"));
    BOOST_TEST(read(*j, "a").value_or("") == "1");
    BOOST_TEST(!read(*j, "c"));
    BOOST_TEST(read(*j, "d").value_or("") == "4");
    // A scan folds first: RocksDB's ordered view has it all.
    auto all = everything(*j);
    BOOST_TEST(all.size() == 3u);
    BOOST_TEST(all["a"] == "1");
    BOOST_TEST(all["b"] == "2");
    BOOST_TEST(all.count("c") == 0u);
    BOOST_TEST(read(*db, "a").value_or("") == "1");
    BOOST_TEST(j->written().folds == 1u);
  }
  // Closed cleanly: nothing left to replay.
  auto db = open_db(dir);
  journal_replay rep;
  auto j = open_journal(dir, *db, options(small_ring), rep);
  BOOST_TEST(rep.records == 0u);
  BOOST_TEST(read(*j, "b").value_or("") == "2");
  j.reset();
  db.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_process_that_dies_loses_no_acknowledged_write) {
  auto dir = test::make_temp_dir("rapi-journal");
  constexpr int writes = 5000;
  // A small ring: it wraps several times, folds come when half of it is in
  // use, and the child dies with its last ten writes not folded.
  in_a_process_that_dies(dir, small_ring, "churn");
  auto db = open_db(dir);
  journal_replay rep;
  auto j = open_journal(dir, *db, options(small_ring), rep);
  BOOST_TEST(rep.records == 10u);
  BOOST_TEST(rep.damaged.empty());
  auto all = everything(*j);
  for (int k = 0; k < 50; ++k) {
    int last = writes - 50 + k;
    BOOST_TEST(all["k" + std::to_string(k)] == "v" + std::to_string(last));
  }
  for (int i = 0; i < writes; ++i) {
    bool kept = i >= writes - 10;
    BOOST_TEST(all.count("n" + std::to_string(i)) == (kept ? 1u : 0u), i);
  }
  BOOST_TEST(all.size() == 60u);
  j.reset();
  db.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(the_replay_stops_at_a_record_never_written_or_damaged) {
  for (bool damage : {false, true}) {
    auto dir = test::make_temp_dir("rapi-journal");
    in_a_process_that_dies(dir, small_ring, "three");
    auto second = first_record + static_cast<long>(record_bytes(2, 1));
    if (damage) // a byte of its value: the checksum no longer matches
      poke(dir + "/journal", second + 24 + 4 + 9 + 2, "!");
    else // its seq: as if the process died before writing it
      poke(dir + "/journal", second, std::string(8, '\0'));
    auto db = open_db(dir);
    journal_replay rep;
    auto j = open_journal(dir, *db, options(small_ring), rep);
    BOOST_TEST(rep.records == 1u);
    BOOST_TEST(rep.damaged.empty() == !damage, rep.damaged);
    BOOST_TEST(read(*j, "k1").value_or("") == "v");
    BOOST_TEST(!read(*j, "k2"));
    BOOST_TEST(!read(*j, "k3"));
    // The journal goes on past what it dropped, and replays the new
    // records next time, not the old ones behind the damage.
    BOOST_REQUIRE(j->write(puts({{"k4", "v"}})).ok());
    j.reset();
    journal_replay again;
    j = open_journal(dir, *db, options(small_ring), again);
    BOOST_TEST(again.records == 0u);
    BOOST_TEST(read(*j, "k4").value_or("") == "v");
    BOOST_TEST(!read(*j, "k3"));
    j.reset();
    db.reset();
    test::remove_dir(dir);
  }
}

BOOST_AUTO_TEST_CASE(a_damaged_header_stops_the_start_and_names_the_file) {
  for (auto [at, bytes] : {std::pair<long, std::string>{0, "NOTAJRNL"},
                           {64, std::string(160, '\x7f')}}) {
    auto dir = test::make_temp_dir("rapi-journal");
    {
      auto db = open_db(dir);
      journal_replay rep;
      auto j = open_journal(dir, *db, options(small_ring), rep);
    }
    poke(dir + "/journal", at, bytes);
    auto db = open_db(dir);
    journal_replay rep;
    std::string error;
    auto j = journal_store::open(dir, *db, options(small_ring), rep, error);
    BOOST_TEST(!j);
    BOOST_TEST(error.find(dir + "/journal is damaged") != std::string::npos,
               error);
    BOOST_TEST(error.find("move it out") != std::string::npos, error);
    db.reset();
    test::remove_dir(dir);
  }
}

BOOST_AUTO_TEST_CASE(a_changed_ring_size_keeps_what_the_old_ring_held) {
  auto dir = test::make_temp_dir("rapi-journal");
  in_a_process_that_dies(dir, small_ring, "one");
  auto db = open_db(dir);
  journal_replay rep;
  auto j = open_journal(dir, *db, options(4 * small_ring), rep);
  BOOST_TEST(rep.records == 1u);
  BOOST_TEST(read(*db, "a").value_or("") == "1");
  j.reset();
  db.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_scan_folds_without_freeing_the_ring_until_a_synced_fold) {
  // A scan writes what is pending into RocksDB unsynced: the records stay
  // in the ring, and are replayed, until a periodic fold has fsynced them.
  auto dir = test::make_temp_dir("rapi-journal");
  in_a_process_that_dies(dir, small_ring, "scanned");
  auto db = open_db(dir);
  journal_replay rep;
  auto j = open_journal(dir, *db, options(small_ring), rep);
  BOOST_TEST(rep.records == 2u);
  BOOST_TEST(read(*j, "a").value_or("") == "1");
  BOOST_TEST(read(*j, "b").value_or("") == "2");
  // A synced fold frees them: nothing is replayed after a clean close.
  BOOST_REQUIRE(j->write(puts({{"c", "3"}})).ok());
  BOOST_REQUIRE(j->fold().ok());
  j.reset();
  journal_replay again;
  j = open_journal(dir, *db, options(small_ring), again);
  BOOST_TEST(again.records == 0u);
  j.reset();
  db.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_scan_of_a_listed_prefix_merges_what_is_pending_without_a_fold) {
  // The recordings query scans an index page by page while the server
  // writes: a fold first would write every pending key for each page.
  auto dir = test::make_temp_dir("rapi-journal");
  memory_store inner;
  BOOST_REQUIRE(inner.write(puts({{"t:1", "stored"}, {"t:3", "stored"},
                                  {"t:5", "stored"}, {"u:0", "other"}}))
                  .ok());
  auto o = options(1 << 20);
  o.listed_prefixes = {"t:"};
  journal_replay rep;
  auto j = open_journal(dir, inner, o, rep);
  write_batch b = puts({{"t:2", "new"}, {"t:3", "newer"}, {"t:6", "new"},
                        {"u:1", "unlisted"}, {"a:1", "unlisted"}});
  b.erase("t:5");
  BOOST_REQUIRE(j->write(b).ok());
  BOOST_REQUIRE(j->write(puts({{"t:2", "newest"}})).ok()); // listed once
  auto scan = [&](std::string_view prefix, std::string_view from,
                  std::size_t stop_after = 100) {
    std::vector<std::string> seen;
    auto st = j->scan(prefix, from, [&](std::string_view k, std::string_view v) {
      seen.push_back(std::string(k) + "=" + std::string(v));
      return seen.size() < stop_after;
    });
    BOOST_REQUIRE_MESSAGE(st.ok(), st.message);
    return seen;
  };
  using list = std::vector<std::string>;
  BOOST_TEST(scan("t:", "") == (list{"t:1=stored", "t:2=newest", "t:3=newer",
                                     "t:6=new"}),
             boost::test_tools::per_element());
  BOOST_TEST(scan("t:", "t:3") == (list{"t:3=newer", "t:6=new"}),
             boost::test_tools::per_element());
  BOOST_TEST(scan("t:", "", 2) == (list{"t:1=stored", "t:2=newest"}),
             boost::test_tools::per_element());
  // Nothing was folded for those: the inner store has none of it.
  BOOST_TEST(j->written().folds == 0u);
  BOOST_TEST(!read(inner, "t:2").has_value());
  BOOST_TEST(read(inner, "t:5").value_or("") == "stored");

  // A fold in progress: what it is writing and what came after it are
  // both seen, the newer over the older.
  j.reset(); // folds everything
  gated_store gate(inner);
  j = open_journal(dir, gate, o, rep);
  BOOST_REQUIRE(j->write(puts({{"t:7", "folding"}, {"t:8", "folding"}})).ok());
  storage_status folded;
  std::thread folder([&] { folded = j->fold(); });
  BOOST_REQUIRE(gate.reached(1)); // the fold holds its write at the gate
  BOOST_REQUIRE(j->write(puts({{"t:8", "pending"}, {"t:9", "pending"}})).ok());
  BOOST_TEST(scan("t:7", "") == (list{"t:7=folding"}),
             boost::test_tools::per_element());
  BOOST_TEST(scan("t:", "t:7") == (list{"t:7=folding", "t:8=pending",
                                        "t:9=pending"}),
             boost::test_tools::per_element());
  gate.open_up();
  folder.join();
  BOOST_TEST(folded.ok());
  BOOST_TEST(scan("t:", "t:7") == (list{"t:7=folding", "t:8=pending",
                                        "t:9=pending"}),
             boost::test_tools::per_element());

  // An unlisted prefix still folds first, and sees the same.
  BOOST_TEST(scan("u:", "") == (list{"u:0=other", "u:1=unlisted"}),
             boost::test_tools::per_element());
  BOOST_TEST(read(inner, "t:9").value_or("") == "pending"); // folded for it
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_batch_too_large_for_the_ring_goes_after_what_is_queued) {
  auto dir = test::make_temp_dir("rapi-journal");
  memory_store inner;
  journal_replay rep;
  auto j = open_journal(dir, inner, options(small_ring), rep);
  BOOST_REQUIRE(j->write(puts({{"x", "1"}, {"y", "1"}})).ok());
  BOOST_REQUIRE(
    j->write(puts({{"x", "2"}, {"big", std::string(small_ring / 2, 'b')}}))
      .ok());
  BOOST_TEST(j->written().direct == 1u);
  BOOST_TEST(read(inner, "x").value_or("") == "2");
  BOOST_TEST(read(inner, "y").value_or("") == "1");
  BOOST_REQUIRE(j->fold().ok());
  BOOST_TEST(read(*j, "x").value_or("") == "2");
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_store_that_fails_keeps_changes_pending_and_readable) {
  auto dir = test::make_temp_dir("rapi-journal");
  memory_store inner;
  BOOST_REQUIRE(inner.write(puts({{"a", "1"}, {"c", "3"}, {"e", "5"}})).ok());
  journal_replay rep;
  auto j = open_journal(dir, inner, options(small_ring), rep);
  inner.fail_writes = true;
  write_batch b = puts({{"a", "10"}, {"b", "2"}, {"f", "6"}});
  b.erase("c");
  BOOST_REQUIRE(j->write(b).ok());
  BOOST_TEST(!j->fold().ok());
  // The scan cannot fold: it merges what is pending into the store's.
  std::vector<std::string> seen;
  BOOST_REQUIRE(j->scan("", "", [&](std::string_view k, std::string_view v) {
                   seen.push_back(std::string(k) + "=" + std::string(v));
                   return true;
                 }).ok());
  BOOST_TEST(seen == (std::vector<std::string>{"a=10", "b=2", "e=5", "f=6"}),
             boost::test_tools::per_element());
  seen.clear();
  BOOST_REQUIRE(j->scan("", "c", [&](std::string_view k, std::string_view) {
                   seen.emplace_back(k);
                   return seen.size() < 2;
                 }).ok());
  BOOST_TEST(seen == (std::vector<std::string>{"e", "f"}),
             boost::test_tools::per_element());
  // Once the ring is full, a write is answered with the store's error
  // rather than left waiting for a fold that cannot succeed.
  storage_status st;
  for (int i = 0; i < 10'000 && st.ok(); ++i)
    st = j->write(puts({{"k" + std::to_string(i), std::string(100, 'v')}}));
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message.find("simulated") != std::string::npos, st.message);
  // The store recovers: everything acknowledged reaches it.
  inner.fail_writes = false;
  BOOST_REQUIRE(j->fold().ok());
  BOOST_TEST(read(inner, "a").value_or("") == "10");
  BOOST_TEST(!read(inner, "c"));
  BOOST_TEST(read(inner, "k0").value_or("") == std::string(100, 'v'));
  j.reset();
  test::remove_dir(dir);
}

namespace {

/// Forwards to a memory store and records each write of a fold: its keys,
/// their bytes (keys and values) and whether it was synced; the
/// `fail_at`-th write (from 1) fails.
struct slice_recorder final : forwarding_store {
  using forwarding_store::forwarding_store;
  struct slice {
    std::vector<std::string> keys;
    std::size_t bytes = 0;
    std::size_t last_bytes = 0; ///< of its last key and value
    bool sync = false;
  };
  std::vector<slice> writes;
  std::size_t fail_at = 0;

  storage_status write(const write_batch& b) override {
    return inner_.write(b);
  }
  storage_status write_views(const write_view& b) override {
    slice s;
    s.sync = b.sync;
    for (auto& op : b.ops) {
      s.keys.emplace_back(op.key);
      s.last_bytes = op.key.size() + op.value.size();
      s.bytes += s.last_bytes;
    }
    writes.push_back(s);
    if (writes.size() == fail_at)
      return {"simulated failure of one slice"};
    return kv_store::write_views(b); // copies, then `write`
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_fold_is_written_in_slices_in_key_order_synced_last) {
  auto dir = test::make_temp_dir("rapi-journal");
  memory_store mem;
  slice_recorder inner(mem);
  auto o = options(1 << 20);
  o.fold_slice_bytes = 4096;
  journal_replay rep;
  auto j = open_journal(dir, inner, o, rep);
  const std::string value(997, 'v'); // 1,000 bytes with its key
  std::vector<std::string> keys;
  for (int i = 39; i >= 0; --i) { // written in reverse order
    keys.push_back("k" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    BOOST_REQUIRE(j->write(puts({{keys.back(), value}})).ok());
  }
  std::sort(keys.begin(), keys.end());
  BOOST_REQUIRE(j->fold().ok());
  // 40 KB in slices of five keys: each ends with the key that reaches 4 KiB.
  BOOST_TEST_REQUIRE(inner.writes.size() == 8u);
  std::vector<std::string> written;
  for (std::size_t w = 0; w < inner.writes.size(); ++w) {
    auto& s = inner.writes[w];
    const bool last = w + 1 == inner.writes.size();
    BOOST_TEST(s.sync == last, "slice " << w);
    if (!last) {
      BOOST_TEST(s.bytes >= 4096u, "slice " << w);
      BOOST_TEST(s.bytes - s.last_bytes < 4096u, "slice " << w);
    }
    written.insert(written.end(), s.keys.begin(), s.keys.end());
  }
  BOOST_TEST(written == keys, boost::test_tools::per_element());
  BOOST_TEST(read(mem, "k07").value_or("") == value);

  // A slice that fails fails the fold: every change stays pending and
  // readable, and the next fold writes them all.
  inner.writes.clear();
  inner.fail_at = 3;
  const std::string newer(997, 'n');
  for (auto& k : keys)
    BOOST_REQUIRE(j->write(puts({{k, newer}})).ok());
  BOOST_TEST(!j->fold().ok());
  BOOST_TEST(inner.writes.size() == 3u);
  for (auto& k : keys)
    BOOST_TEST(read(*j, k).value_or("") == newer, k);
  inner.fail_at = 0;
  BOOST_REQUIRE(j->fold().ok());
  for (auto& k : keys)
    BOOST_TEST(read(mem, k).value_or("") == newer, k);
  j.reset();

  // The folding thread writes in slices too (sleeping between them), and
  // nothing is left to replay after it.
  inner.writes.clear();
  o.fold_interval = 10ms;
  j = open_journal(dir, inner, o, rep);
  BOOST_TEST(rep.records == 0u);
  for (auto& k : keys)
    BOOST_REQUIRE(j->write(puts({{k, value}})).ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (read(mem, keys.back()).value_or("") != value
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  for (auto& k : keys)
    BOOST_TEST(read(mem, k).value_or("") == value, k);
  BOOST_TEST(inner.writes.size() >= 8u);
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(a_write_the_store_would_refuse_is_refused_unjournaled) {
  struct refusing_store final : forwarding_store {
    using forwarding_store::forwarding_store;
    storage_status write(const write_batch& b) override {
      return inner_.write(b);
    }
    std::string refusal(const write_batch&) override {
      return "the disk is nearly full";
    }
  };
  auto dir = test::make_temp_dir("rapi-journal");
  memory_store mem;
  refusing_store inner(mem);
  journal_replay rep;
  auto j = open_journal(dir, inner, options(small_ring), rep);
  auto st = j->write(puts({{"a", "1"}}));
  BOOST_TEST(st.message == "the disk is nearly full");
  BOOST_TEST(!read(*j, "a"));
  BOOST_TEST(j->written().records == 0u);
  j.reset();
  test::remove_dir(dir);
}

BOOST_AUTO_TEST_SUITE_END()
