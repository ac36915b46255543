// A process that writes through the write-behind journal and then dies
// without closing it or RocksDB, as `kill -9` would leave them: the crash
// of the journal tests (tests/integration/journal_test.cpp). A child
// process of its own rather than a fork, which sanitizers do not support
// in a process that has threads.
//
// usage: journal_child DIR RING_BYTES SCENARIO
//   churn  5000 writes to 50 keys plus a sliding window of 10 more; fails
//          (exit 4) unless folds happened on the way; the last 10 writes
//          are in the ring only (nothing folded them) when it exits
//   three  k1, k2 and k3 = "v", one write each
//   one    a = "1"
//   scanned  a = "1", a scan (an unsynced fold), b = "2"
// Exit 0 once the writes are acknowledged; 2: the journal did not open;
// 3: a write failed.

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <unistd.h>

#include "storage/journal_store.hpp"

using namespace rapi;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: journal_child DIR RING_BYTES SCENARIO\n";
    return 1;
  }
  const std::string dir = argv[1], scenario = argv[3];
  rocksdb_options ro;
  ro.min_free_bytes = 0;
  std::string error;
  auto db = open_rocksdb(dir, ro, error);
  journal_options jo;
  jo.capacity_bytes = std::strtoull(argv[2], nullptr, 10);
  jo.fold_interval = std::chrono::hours(1);
  journal_replay replayed;
  auto j = db ? journal_store::open(dir, *db, jo, replayed, error) : nullptr;
  if (!j) {
    std::cerr << error << "\n";
    _exit(2);
  }
  auto put = [&](write_batch b) {
    if (!j->write(b).ok())
      _exit(3);
  };
  if (scenario == "churn") {
    auto churn = [&](int i) {
      write_batch b;
      b.put("k" + std::to_string(i % 50), "v" + std::to_string(i));
      b.put("n" + std::to_string(i), std::string(i % 200, 'x'));
      if (i >= 10)
        b.erase("n" + std::to_string(i - 10));
      put(std::move(b));
    };
    for (int i = 0; i < 4990; ++i)
      churn(i);
    if (j->written().folds == 0)
      _exit(4);
    // The last ten only in the ring when the process dies: written again
    // (to the same effect) if a fold took them meanwhile.
    for (;;) {
      if (!j->fold().ok())
        _exit(3);
      auto folds = j->written().folds;
      for (int i = 4990; i < 5000; ++i)
        churn(i);
      if (j->written().folds == folds)
        break;
    }
  } else if (scenario == "three") {
    for (int i = 1; i <= 3; ++i) {
      write_batch b;
      b.put("k" + std::to_string(i), "v");
      put(std::move(b));
    }
  } else if (scenario == "scanned") {
    write_batch a;
    a.put("a", "1");
    put(std::move(a));
    // A scan folds without fsync: the record stays in the ring.
    j->scan("", "", [](std::string_view, std::string_view) { return true; });
    write_batch b;
    b.put("b", "2");
    put(std::move(b));
  } else if (scenario == "one") {
    write_batch b;
    b.put("a", "1");
    put(std::move(b));
  } else {
    std::cerr << "unknown scenario " << scenario << "\n";
    _exit(1);
  }
  _exit(0); // no destructor runs: nothing folded or closed
}
