#include "storage/journal_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rapi {

// The file: a 4 KiB header, then the ring.
//
// Header: "RAPIJNL1", the ring's capacity (u64), and two slots (at 64 and
// 128) of {tail, seq, check}: where the first record not yet folded into
// the inner store starts (a logical offset: it only grows; the ring
// position is its remainder by the capacity) and that record's sequence
// number. Folds write the slots in turn, so a slot torn by a crash leaves
// the other, older one, and replaying from an older point only writes
// again what the inner store already has.
//
// Record, at an 8-aligned offset: seq (u64), meta (u64: payload length << 8
// | type), checksum of the payload (u64), the payload, zeros to the next 8.
// The seq is stored last: a record the process died writing has the seq of
// whatever was there before (an older lap's, or 0), which is never the one
// replay expects next, so replay stops there. A record never straddles the
// end of the ring: the rest of the lap is a padding record (type 2), or
// skipped when it is too short for a record header.
//
// Payload: u32 op count, then per op u8 kind (0 put, 1 erase), u32 key
// length, u32 value length, the key, the value.

namespace {

constexpr char file_magic[8] = {'R', 'A', 'P', 'I', 'J', 'N', 'L', '1'};
constexpr std::uint64_t header_bytes = 4096;
constexpr std::uint64_t capacity_at = 8;
constexpr std::uint64_t slot_at[2] = {64, 128};
constexpr std::uint64_t record_header = 24;
constexpr std::uint64_t type_batch = 1;
constexpr std::uint64_t type_padding = 2;
/// Slots of a folded table kept for the next writes (see fold_locked).
constexpr std::size_t reuse_slots_max = 64 * 1024;

std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
  h ^= w;
  h *= 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 29);
}

std::uint64_t word(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

/// Not cryptographic: tells a record whose pages the OS wrote back only in
/// part (after a power loss) from a whole one. Four independent lanes.
std::uint64_t checksum(const unsigned char* p, std::size_t n) {
  std::uint64_t a = 0x243F6A8885A308D3ULL ^ n, b = 0x13198A2E03707344ULL,
                c = 0xA4093822299F31D0ULL, d = 0x082EFA98EC4E6C89ULL;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = mix(a, word(p + i));
    b = mix(b, word(p + i + 8));
    c = mix(c, word(p + i + 16));
    d = mix(d, word(p + i + 24));
  }
  for (; i + 8 <= n; i += 8)
    a = mix(a, word(p + i));
  if (i < n) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + i, n - i);
    b = mix(b, w);
  }
  return mix(mix(mix(a, b), c), d);
}

std::uint64_t slot_check(std::uint64_t tail, std::uint64_t seq) {
  return mix(mix(0x5BD1E9955BD1E995ULL, tail), seq) | 1; // never 0
}

std::uint64_t round8(std::uint64_t n) {
  return (n + 7) & ~std::uint64_t{7};
}

std::uint64_t payload_size(const write_batch& batch) {
  std::uint64_t n = 4;
  for (auto& op : batch.ops)
    n += 9 + op.key.size() + op.value.size();
  return n;
}

void put32(unsigned char*& p, std::uint32_t v) {
  std::memcpy(p, &v, 4);
  p += 4;
}

std::uint32_t get32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/// What a replay found: every key's newest value (nullopt: erased).
using replay_map
  = std::unordered_map<std::string, std::optional<std::string>>;

/// Adds a payload's ops to `out` (newest wins); false when it is malformed.
bool decode(const unsigned char* p, std::uint64_t n, replay_map& out) {
  if (n < 4)
    return false;
  auto count = get32(p);
  std::uint64_t at = 4;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (n - at < 9)
      return false;
    auto kind = p[at];
    auto klen = get32(p + at + 1);
    auto vlen = get32(p + at + 5);
    at += 9;
    if (kind > 1 || n - at < std::uint64_t{klen} + vlen)
      return false;
    std::string key(reinterpret_cast<const char*>(p + at), klen);
    at += klen;
    if (kind == 1)
      out[std::move(key)] = std::nullopt;
    else
      out[std::move(key)]
        = std::string(reinterpret_cast<const char*>(p + at), vlen);
    at += vlen;
  }
  return at == n;
}

/// Views of `m`, fsynced when written: the journal frees what a write
/// holds only once it is on disk.
write_view synced_view_of(const replay_map& m) {
  write_view v;
  v.sync = true;
  v.ops.reserve(m.size());
  for (auto& kv : m)
    v.ops.push_back({!kv.second, kv.first,
                     kv.second ? std::string_view(*kv.second)
                               : std::string_view()});
  return v;
}

write_view synced_view_of(const write_batch& b) {
  write_view v;
  v.sync = true;
  v.ops.reserve(b.ops.size());
  for (auto& op : b.ops)
    v.ops.push_back({op.erase, op.key, op.value});
  return v;
}

std::string sys_error(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

} // namespace

struct journal_store::mapping {
  int fd = -1;
  unsigned char* base = nullptr;
  std::uint64_t bytes = 0;

  ~mapping() {
    if (base)
      ::munmap(base, bytes);
    if (fd >= 0)
      ::close(fd);
  }
  unsigned char* ring() const { return base + header_bytes; }
  std::uint64_t capacity() const { return bytes - header_bytes; }
  std::uint64_t load(std::uint64_t at) const { return word(base + at); }
  void store(std::uint64_t at, std::uint64_t v) {
    std::memcpy(base + at, &v, 8);
  }
  void write_slot(int i, std::uint64_t tail, std::uint64_t seq) {
    store(slot_at[i], tail);
    store(slot_at[i] + 8, seq);
    store(slot_at[i] + 16, slot_check(tail, seq));
  }
  /// The header to disk (the ring is left to the OS).
  void sync_header() { ::msync(base, header_bytes, MS_SYNC); }
  bool map(std::string& error, const std::string& path) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                     0);
    if (p == MAP_FAILED) {
      base = nullptr;
      error = sys_error("cannot map the journal " + path, errno);
      return false;
    }
    base = static_cast<unsigned char*>(p);
    return true;
  }
};

std::unique_ptr<journal_store>
journal_store::open(const std::string& dir, kv_store& inner,
                    const journal_options& options, journal_replay& replayed,
                    std::string& error) {
  replayed = {};
  const std::string path = dir + "/journal";
  auto m = std::make_unique<mapping>();
  m->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m->fd < 0) {
    error = sys_error("cannot open the journal " + path, errno);
    return nullptr;
  }
  struct stat st;
  if (::fstat(m->fd, &st) != 0) {
    error = sys_error("cannot read the journal " + path, errno);
    return nullptr;
  }
  const std::string damaged = "the journal " + path + " is damaged";
  const std::string move_away
    = "; move it out of the data folder to start without the changes it "
      "holds";

  // -- replay what an earlier run left ------------------------------------
  std::uint64_t seq = 1;
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size >= header_bytes) {
    m->bytes = size;
    if (!m->map(error, path))
      return nullptr;
    static const unsigned char zeros[sizeof file_magic] = {};
    bool fresh = std::memcmp(m->base, zeros, sizeof zeros) == 0;
    if (!fresh) {
      if (std::memcmp(m->base, file_magic, sizeof file_magic) != 0) {
        error = damaged + " (it does not start as a journal)" + move_away;
        return nullptr;
      }
      auto cap = m->load(capacity_at);
      if (cap == 0 || cap % 8 != 0 || header_bytes + cap != size) {
        error = damaged + " (its size does not match its header)" + move_away;
        return nullptr;
      }
      int best = -1;
      for (int i = 0; i < 2; ++i) {
        auto tail = m->load(slot_at[i]), s = m->load(slot_at[i] + 8);
        if (m->load(slot_at[i] + 16) == slot_check(tail, s)
            && (best < 0 || s > m->load(slot_at[best] + 8)))
          best = i;
      }
      if (best < 0) {
        error = damaged + " (its header is unreadable)" + move_away;
        return nullptr;
      }
      auto at = m->load(slot_at[best]);
      seq = m->load(slot_at[best] + 8);
      replay_map changes;
      // At most one lap: a full ring holds less than `cap` bytes.
      for (std::uint64_t walked = 0; walked < cap;) {
        auto pos = at % cap;
        auto lap_left = cap - pos;
        if (lap_left < record_header) {
          at += lap_left;
          walked += lap_left;
          continue;
        }
        auto* r = m->ring() + pos;
        if (word(r) != seq)
          break; // the usual end: a record never (completely) written
        auto meta = word(r + 8);
        auto type = meta & 0xff, len = meta >> 8;
        if (type == type_padding) {
          ++seq;
          at += lap_left;
          walked += lap_left;
          continue;
        }
        if (type != type_batch || len > lap_left - record_header
            || word(r + 16) != checksum(r + record_header, len)
            || !decode(r + record_header, len, changes)) {
          replayed.damaged = "record " + std::to_string(seq)
                             + " is damaged; it and what follows it "
                               "were not replayed";
          seq += std::uint64_t{1} << 32; // past anything left behind it
          break;
        }
        ++replayed.records;
        ++seq;
        auto n = record_header + round8(len);
        at += n;
        walked += n;
      }
      if (!changes.empty()) {
        replayed.keys = changes.size();
        auto ws = inner.write_views(synced_view_of(changes));
        if (!ws.ok()) {
          error = "cannot replay the journal " + path
                  + " into the store: " + ws.message;
          return nullptr;
        }
      }
    }
    ::munmap(m->base, m->bytes);
    m->base = nullptr;
  }

  // -- a fresh ring, the sequence going on --------------------------------
  const std::uint64_t cap = std::max<std::uint64_t>(
    round8(options.capacity_bytes), 64 * 1024);
  m->bytes = header_bytes + cap;
  if (size != m->bytes && ::ftruncate(m->fd, static_cast<off_t>(m->bytes))) {
    error = sys_error("cannot size the journal " + path, errno);
    return nullptr;
  }
  // Every block now, so that a write to the mapping never finds the disk
  // full (that would be a SIGBUS).
  if (int err = ::posix_fallocate(m->fd, 0, static_cast<off_t>(m->bytes))) {
    error = sys_error("cannot allocate the journal " + path + " ("
                        + std::to_string(m->bytes >> 20) + " MiB)",
                      err);
    return nullptr;
  }
  if (!m->map(error, path))
    return nullptr;
  // Slots first, magic last: a crash in between leaves either the old
  // header (replayed again: the same changes) or a new one.
  m->write_slot(0, 0, seq);
  m->write_slot(1, 0, seq);
  m->store(capacity_at, cap);
  std::memcpy(m->base, file_magic, sizeof file_magic);
  m->sync_header();
  return std::unique_ptr<journal_store>(
    new journal_store(inner, std::move(m), options, 0, seq));
}

journal_store::journal_store(kv_store& inner, std::unique_ptr<mapping> map,
                             const journal_options& options,
                             std::uint64_t head, std::uint64_t seq)
  : inner_(inner), map_(std::move(map)), options_(options),
    idle_folds_(options.idle_folds && idle_priority_is_reversible()),
    head_(head), tail_(head), seq_(seq) {
  thread_ = std::thread([this] { run(); });
}

journal_store::~journal_store() {
  {
    std::lock_guard<std::mutex> lk(mtx_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  auto f = lock_folds();
  fold_locked(true);
}

bool idle_priority_is_reversible() {
  bool reversible = false;
  std::thread([&] {
    const int usual = sched_getscheduler(0);
    if (usual < 0 || usual == SCHED_IDLE)
      return;
    sched_param p{};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &p) != 0)
      return;
    reversible = pthread_setschedparam(pthread_self(), usual, &p) == 0;
  }).join();
  return reversible;
}

storage_status journal_store::write(const write_batch& batch) {
  return append(batch, false);
}

storage_status journal_store::write_or_refuse(const write_batch& batch) {
  return append(batch, true);
}

storage_status journal_store::append(const write_batch& batch, bool refuse) {
  if (batch.empty())
    return {};
  if (auto reason = inner_.refusal(batch); !reason.empty())
    return {reason};
  const auto cap = map_->capacity();
  const auto len = payload_size(batch);
  const auto n = record_header + round8(len);
  if (n > cap / 4) {
    // Too large for the ring (a bulk provisioning request): what is
    // journaled goes first, then the batch directly, fsynced like a fold
    // (a later record must not reach the disk without it). Not on a thread
    // that must not wait.
    if (refuse)
      return {"a batch too large for the journal goes to the committer", true};
    auto f = lock_folds();
    if (auto st = fold_locked(true); !st.ok())
      return st;
    {
      std::lock_guard<std::mutex> lk(mtx_);
      ++counts_.direct;
    }
    return inner_.write_views(synced_view_of(batch));
  }
  std::unique_lock<std::mutex> lk(mtx_);
  std::uint64_t lap_left = 0;
  for (bool waited = false;; waited = true) {
    lap_left = cap - head_ % cap;
    auto need = lap_left < n ? lap_left + n : n;
    if (cap - (head_ - tail_) >= need)
      break;
    if (!fold_error_.empty())
      return {"the journal is full and cannot be written into the store: "
              + fold_error_};
    if (refuse)
      return {"the journal is full until the store catches up", true};
    if (!waited)
      ++counts_.ring_waits;
    fold_asked_ = true;
    wake_.notify_one();
    space_.wait(lk);
  }
  auto* ring = map_->ring();
  if (lap_left < n) {
    if (lap_left >= record_header) {
      auto* r = ring + head_ % cap;
      std::memcpy(r + 8, &type_padding, 8);
      __atomic_store_n(reinterpret_cast<std::uint64_t*>(r), seq_++,
                       __ATOMIC_RELEASE);
    }
    head_ += lap_left;
  }
  auto* r = ring + head_ % cap;
  auto* p = r + record_header;
  put32(p, static_cast<std::uint32_t>(batch.ops.size()));
  for (auto& op : batch.ops) {
    *p++ = op.erase ? 1 : 0;
    auto klen = static_cast<std::uint32_t>(op.key.size());
    auto vlen = static_cast<std::uint32_t>(op.value.size());
    put32(p, klen);
    put32(p, vlen);
    std::memcpy(p, op.key.data(), klen);
    std::string_view key(reinterpret_cast<const char*>(p), klen);
    p += klen;
    std::memcpy(p, op.value.data(), vlen);
    // A key already pending keeps its view into an older record, which
    // stays in the ring until the fold that writes it.
    if (pending_.put(key, {reinterpret_cast<const char*>(p), vlen, op.erase})
        && listed(key))
      pending_listed_.push_back(key);
    p += vlen;
  }
  std::memset(p, 0, round8(len) - len);
  std::uint64_t meta = (len << 8) | type_batch;
  std::memcpy(r + 8, &meta, 8);
  auto sum = checksum(r + record_header, len);
  std::memcpy(r + 16, &sum, 8);
  __atomic_store_n(reinterpret_cast<std::uint64_t*>(r), seq_++,
                   __ATOMIC_RELEASE);
  head_ += n;
  ++counts_.records;
  if (!fold_asked_ && head_ - tail_ > cap / 2) {
    fold_asked_ = true;
    wake_.notify_one();
  }
  return {};
}

namespace {

/// Writes `batch` into `inner` in slices of about `slice_bytes` of keys and
/// values, in order, syncing (if `batch.sync`) with the last. A fold need
/// not be one write: it writes each key's newest value, readers look in
/// the fold's map until it is done, and one cut short is replayed whole
/// from the ring, whose space is freed only after the synced last slice.
/// `between`, if set, is called between slices.
///
/// Why: this kernel (no preemption inside the kernel, a tick every 4 ms)
/// switches tasks on a CPU when one sleeps or is woken, or at a tick. The
/// folding thread runs at SCHED_IDLE, yet a task woken on its CPU just
/// before the fold was picked there (the load client, woken by a lane that
/// then went back to epoll_wait) is not always eligible to run under EEVDF
/// yet, and then waits for the next tick. With the fold as one write
/// (about 4 ms of CPU at 33k lifecycle requests a second) the client sat
/// out up to 4 ms at a time, and both lanes idled without requests, a few
/// times a second: the slowest answers of the open loop. A slice of 16 KiB
/// takes about an eighth of a millisecond, and the sleep after it lets the
/// CPU switch (bench/performance_notes.md, tenth round).
storage_status write_in_slices(kv_store& inner, const write_view& batch,
                               std::size_t slice_bytes,
                               const std::function<void()>& between) {
  write_view slice;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < batch.ops.size(); ++i) {
    auto& op = batch.ops[i];
    slice.ops.push_back(op);
    bytes += op.key.size() + op.value.size();
    const bool last = i + 1 == batch.ops.size();
    if (!last && bytes < slice_bytes)
      continue;
    slice.sync = last && batch.sync;
    if (auto st = inner.write_views(slice); !st.ok())
      return st;
    slice.ops.clear();
    bytes = 0;
    if (between && !last)
      between();
  }
  return {};
}

} // namespace

storage_status journal_store::fold_locked(bool sync, bool pause) {
  std::uint64_t end = 0, seq = 0;
  {
    std::lock_guard<std::mutex> lk(mtx_);
    fold_asked_ = false;
    if (pending_.empty() && (!sync || written_end_ == tail_))
      return {};
    folding_.swap(pending_);
    folding_listed_.swap(pending_listed_);
    folding_end_ = head_;
    folding_seq_ = seq_;
  }
  storage_status st;
  if (!folding_.empty()) {
    // Only this fold changes `folding_`; readers read it under `mtx_`. In
    // key order: the memtable inserts each key next to the one before.
    write_view batch;
    batch.sync = sync;
    batch.ops.reserve(folding_.size());
    folding_.for_each([&](std::string_view key, const pending_value& v) {
      batch.ops.push_back({v.erase, key, std::string_view(v.data, v.size)});
    });
    std::sort(batch.ops.begin(), batch.ops.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    // The folding thread sleeps between slices until a writer asks for a
    // fold (the ring is half full, or a write waits for space) or another
    // thread waits for this one (a scan): a saturated server leaves a
    // thread at idle priority little CPU after each sleep, and such a fold
    // would crawl while the ring fills. From then on the fold also runs at
    // the thread's usual priority: at idle priority it got a CPU only when
    // one was idle, and on a busy server a recordings query waited 10-50
    // ms for the rest of a periodic fold before its own scan could start.
    bool pausing = pause;
    auto still_pausing = [&] {
      {
        std::lock_guard<std::mutex> lk(mtx_);
        pausing = !fold_asked_ && fold_waiters_.load() == 0;
      }
      if (!pausing)
        fold_priority(false);
    };
    std::function<void()> between;
    if (pause) {
      still_pausing();
      between = [&] {
        if (!pausing)
          return;
        std::this_thread::sleep_for(std::chrono::microseconds(1));
        still_pausing();
      };
    }
    st = write_in_slices(inner_, batch, options_.fold_slice_bytes, between);
  } else {
    // Written by an unsynced fold (for a scan) since: only the sync is due.
    st = inner_.sync();
  }
  pending_map done;
  {
    std::lock_guard<std::mutex> lk(mtx_);
    if (!st.ok()) {
      // Kept for the next fold, the newer values over the older.
      fold_error_ = st.message;
      pending_.for_each([&](std::string_view key, const pending_value& v) {
        folding_.put(key, v);
      });
      pending_.swap(folding_);
      folding_.clear();
      // A key in both is listed twice: the scans' merge takes it once.
      folding_listed_.insert(folding_listed_.end(), pending_listed_.begin(),
                             pending_listed_.end());
      pending_listed_.swap(folding_listed_);
      folding_listed_.clear();
    } else {
      fold_error_.clear();
      if (!folding_.empty()) {
        ++counts_.folds;
        counts_.folded_keys += folding_.size();
      }
      written_end_ = folding_end_;
      if (sync) {
        // The ring space is freed, and the header says so, only once the
        // fold is on disk, so that even after a power loss (which the
        // default mode does not promise to survive) the store comes back
        // as of one moment — the last synced fold and then the journal's
        // records in order up to the first one the OS had not written back
        // — never a mix.
        tail_ = folding_end_;
        end = tail_;
        seq = folding_seq_;
        map_->write_slot(++slot_writes_ % 2, end, seq);
      }
      done.swap(folding_);
      folding_listed_.clear();
    }
  }
  // Writers waiting for ring space: space, or the error to answer with.
  space_.notify_all();
  if (st.ok() && sync)
    map_->sync_header();
  // The table goes back emptied but with its slots, to be the next
  // `pending_`: grown from none again it would rehash several times per
  // fold on the writers' threads (past 64 Ki slots, 4 MiB, after a bulk
  // provisioning, the memory goes back instead).
  done.clear(reuse_slots_max);
  if (done.capacity() > 0) {
    std::lock_guard<std::mutex> lk(mtx_);
    if (folding_.empty() && folding_.capacity() < done.capacity())
      folding_.swap(done);
  }
  return st;
}

std::unique_lock<std::mutex> journal_store::lock_folds() {
  ++fold_waiters_;
  std::unique_lock<std::mutex> f(fold_mtx_);
  --fold_waiters_;
  return f;
}

void journal_store::fold_priority(bool idle) {
  if (!idle_folds_ || idle == fold_idle_now_)
    return;
  sched_param p{};
  if (pthread_setschedparam(pthread_self(), idle ? SCHED_IDLE : usual_policy_,
                            &p)
      == 0)
    fold_idle_now_ = idle;
}

storage_status journal_store::fold() {
  auto f = lock_folds();
  return fold_locked(true);
}

void journal_store::run() {
  pthread_setname_np(pthread_self(), "rapi-journal");
  // Folds run when a CPU would otherwise be idle, and a thread that answers
  // requests preempts them when it is woken (SCHED_IDLE): a fold is a burst
  // of a few milliseconds of CPU every interval, and at normal priority the
  // answers of that moment waited for it. A task already waiting for the
  // CPU gets it after the fold's current slice (write_in_slices). Under
  // saturation the ring fills and writers wait for a fold, which then gets
  // the CPU they leave.
  //
  // But a fold asked for because the ring is half full runs at normal
  // priority: on a saturated server an idle-priority fold got so little
  // CPU that the ring filled before it ended, and every writer then waited
  // for it (the slowest answers of a closed loop, 17-28 ms).
  //
  // Where the process may not switch the thread back (a service's own
  // user, without LimitNICE=+0), every fold runs at the usual priority: a
  // thread left at idle priority would be the crawling fold above.
  //
  // And a periodic fold that a thread comes to wait for (a scan, a ring
  // gone half full) goes on at the usual priority (fold_locked).
  usual_policy_ = sched_getscheduler(0);
  fold_priority(true);
  std::unique_lock<std::mutex> lk(mtx_);
  bool failed = false;
  while (!stopping_) {
    if (failed) // no retry before the interval is up
      wake_.wait_for(lk, options_.fold_interval, [&] { return stopping_; });
    else
      wake_.wait_for(lk, options_.fold_interval,
                     [&] { return stopping_ || fold_asked_; });
    if (stopping_)
      break;
    const bool urgent = fold_asked_;
    lk.unlock();
    fold_priority(!urgent);
    {
      std::lock_guard<std::mutex> f(fold_mtx_);
      failed = !fold_locked(true, true).ok();
    }
    lk.lock();
  }
}

std::optional<std::string> journal_store::get(std::string_view key,
                                              storage_status& status) {
  {
    std::lock_guard<std::mutex> lk(mtx_);
    for (auto* m : {&pending_, &folding_}) {
      pending_value v;
      if (!m->find(key, v))
        continue;
      if (v.erase)
        return std::nullopt;
      return std::string(v.data, v.size);
    }
  }
  return inner_.get(key, status);
}

bool journal_store::listed(std::string_view key) const {
  for (auto& p : options_.listed_prefixes)
    if (key.substr(0, p.size()) == p)
      return true;
  return false;
}

storage_status journal_store::scan(
  std::string_view prefix, std::string_view from,
  const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::map<std::string, std::optional<std::string>> over;
  const auto start = from.empty() ? prefix : from;
  auto take = [&](std::string_view key, const pending_value& v) {
    if (key.substr(0, prefix.size()) == prefix && key >= start)
      over[std::string(key)] =
        v.erase ? std::nullopt
                : std::optional<std::string>(std::in_place, v.data, v.size);
  };
  if (!prefix.empty() && listed(prefix)) {
    // The pending keys under the prefix, each with its newest value (the
    // fold's older, then the newer pending): a few hundred keys on a busy
    // server, where a fold first would write every pending key.
    std::lock_guard<std::mutex> lk(mtx_);
    for (auto [keys, map] : {std::pair{&folding_listed_, &folding_},
                             std::pair{&pending_listed_, &pending_}})
      for (auto key : *keys) {
        pending_value v;
        if (map->find(key, v))
          take(key, v);
      }
  } else {
    // Elsewhere (a start's scans, an operator's) what is journaled goes
    // into the store first, so that the store's own ordered scan sees it.
    // Not fsynced: the ring keeps those records until the next periodic
    // fold syncs them, so a scan does not wait for the disk.
    storage_status folded;
    {
      auto f = lock_folds();
      folded = fold_locked(false);
    }
    if (folded.ok())
      return inner_.scan(prefix, from, fn);
    // The store refuses writes (the disk is nearly full): merge every
    // pending change under the prefix instead.
    std::lock_guard<std::mutex> lk(mtx_);
    for (auto* m : {&folding_, &pending_})
      m->for_each(take);
  }
  return merged_scan(over, prefix, from, fn);
}

storage_status journal_store::merged_scan(
  const std::map<std::string, std::optional<std::string>>& over,
  std::string_view prefix, std::string_view from,
  const std::function<bool(std::string_view, std::string_view)>& fn) {
  auto it = over.begin();
  bool stopped = false;
  // Pending keys before `key`, in order; false once `fn` says stop.
  auto emit_before = [&](std::string_view key) {
    for (; it != over.end() && it->first < key; ++it)
      if (it->second && !fn(it->first, *it->second))
        return !(stopped = true);
    return true;
  };
  auto st = inner_.scan(prefix, from, [&](std::string_view k,
                                          std::string_view v) {
    if (!emit_before(k))
      return false;
    if (it != over.end() && it->first == k) {
      auto& value = (it++)->second;
      if (!value)
        return true; // erased since
      return (stopped = !fn(k, *value)) == false;
    }
    return (stopped = !fn(k, v)) == false;
  });
  if (st.ok() && !stopped)
    for (; it != over.end(); ++it)
      if (it->second && !fn(it->first, *it->second))
        break;
  return st;
}

std::uint64_t journal_store::size_bytes() {
  return inner_.size_bytes();
}

journal_store::counts journal_store::written() const {
  std::lock_guard<std::mutex> lk(mtx_);
  return counts_;
}

} // namespace rapi
