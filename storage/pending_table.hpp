#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>

namespace rapi {

/// Where a journaled key's newest value is: its bytes in the journal's
/// ring (records are not overwritten before they are folded), or that it
/// was erased.
struct pending_value {
  const char* data = nullptr;
  std::uint32_t size = 0;
  bool erase = false;
};

/// The journal's map from a key to its newest value, written on every
/// change (journal_store).
///
/// `std::unordered_map` cost three cache misses per write there (the
/// bucket, the node, and the key's bytes in an older record of the ring,
/// long out of the cache): it was the largest single item of a write. This
/// is one array of 64-byte slots (linear probing, at most half full), each
/// holding half the key's hash, the value's place and the key itself when
/// it is short (up to 40 bytes: an agent's or a recording's key), so a
/// write touches one cache line. A longer key (index keys, written once each) is kept as a view,
/// which must stay valid while the table holds it (it points into the ring
/// too). Clearing is O(1) (a generation count); the array is kept for the
/// next round unless it grew large.
class pending_table {
public:
  using hasher = std::uint64_t (*)(std::string_view);

  /// `hash`: for tests (colliding keys); the default is std::hash.
  explicit pending_table(hasher hash = nullptr)
    : hash_(hash != nullptr ? hash : &std_hash) {
  }

  pending_table(pending_table&&) = default;
  pending_table& operator=(pending_table&&) = default;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  /// Slots allocated (for tests).
  std::size_t capacity() const { return capacity_; }

  /// Sets `key`'s value (inserting it); true when the key was not in the
  /// table. A long key's view is replaced by this one (the newer record's
  /// copy of the same bytes).
  bool put(std::string_view key, const pending_value& v) {
    if ((size_ + 1) * 2 > capacity_)
      grow();
    const auto h = hash_(key);
    slot* s = probe(key, h);
    const bool inserted = s->gen != gen_;
    if (inserted) {
      s->gen = gen_;
      s->tag = tag_of(h);
      s->set_key(key);
      ++size_;
    } else if (!s->inline_key()) {
      s->set_key(key);
    }
    s->value = v.data;
    s->size = v.size;
    s->erase = v.erase;
    return inserted;
  }

  /// `key`'s value, or false.
  bool find(std::string_view key, pending_value& out) const {
    if (size_ == 0)
      return false;
    const slot* s = probe(key, hash_(key));
    if (s->gen != gen_)
      return false;
    out = {s->value, s->size, s->erase};
    return true;
  }

  /// Calls `f(key, value)` for every key, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    if (size_ == 0)
      return;
    for (std::size_t i = 0; i < capacity_; ++i) {
      const slot& s = slots_[i];
      if (s.gen == gen_)
        f(s.key(), pending_value{s.value, s.size, s.erase});
    }
  }

  /// Empties the table; its slots stay for the next round unless there
  /// are more than `keep_slots` of them.
  void clear(std::size_t keep_slots = 1 << 16) {
    size_ = 0;
    if (capacity_ > keep_slots) {
      slots_.reset();
      capacity_ = 0;
      gen_ = 1;
      return;
    }
    if (++gen_ == 0) { // after 2^32 rounds: the slots forget theirs
      for (std::size_t i = 0; i < capacity_; ++i)
        slots_[i].gen = 0;
      gen_ = 1;
    }
  }

  void swap(pending_table& o) noexcept {
    std::swap(slots_, o.slots_);
    std::swap(capacity_, o.capacity_);
    std::swap(size_, o.size_);
    std::swap(gen_, o.gen_);
    std::swap(hash_, o.hash_);
  }

private:
  static constexpr std::size_t inline_bytes = 40;

  struct alignas(64) slot {
    union {
      char bytes[inline_bytes];
      const char* at;
    } k{};
    const char* value = nullptr;
    std::uint32_t size = 0;
    /// The table's generation when this slot was filled; an older one
    /// means empty.
    std::uint32_t gen = 0;
    /// The hash's upper half (the lower bits chose the slot).
    std::uint32_t tag = 0;
    std::uint16_t key_size = 0;
    bool erase = false;

    bool inline_key() const { return key_size <= inline_bytes; }
    std::string_view key() const {
      return {inline_key() ? k.bytes : k.at, key_size};
    }
    void set_key(std::string_view key) {
      key_size = static_cast<std::uint16_t>(key.size());
      if (inline_key())
        std::memcpy(k.bytes, key.data(), key.size());
      else
        k.at = key.data();
    }
  };
  static_assert(sizeof(slot) == 64, "a slot is one cache line");

  static std::uint32_t tag_of(std::uint64_t h) {
    return static_cast<std::uint32_t>(h >> 32);
  }

  static std::uint64_t std_hash(std::string_view key) {
    return std::hash<std::string_view>{}(key);
  }

  /// The slot holding `key`, or the empty one where it would go.
  slot* probe(std::string_view key, std::uint64_t h) const {
    const std::size_t mask = capacity_ - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      slot* s = &slots_[i];
      if (s->gen != gen_)
        return s;
      if (s->tag == tag_of(h) && s->key_size == key.size()
          && s->key() == key)
        return s;
    }
  }

  void grow() {
    const std::size_t cap = capacity_ == 0 ? 1024 : capacity_ * 2;
    std::unique_ptr<slot[]> old = std::move(slots_);
    const std::size_t old_cap = capacity_;
    const std::uint32_t old_gen = gen_;
    slots_.reset(new slot[cap]);
    capacity_ = cap;
    gen_ = 1; // fresh slots are generation 0
    for (std::size_t i = 0; i < old_cap; ++i) {
      slot& s = old[i];
      if (s.gen != old_gen)
        continue;
      slot* d = probe(s.key(), hash_(s.key()));
      *d = s;
      d->gen = gen_;
    }
  }

  std::unique_ptr<slot[]> slots_;
  std::size_t capacity_ = 0; ///< a power of two (or 0)
  std::size_t size_ = 0;
  std::uint32_t gen_ = 1;
  hasher hash_;
};

} // namespace rapi
