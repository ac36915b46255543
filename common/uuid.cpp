#include "common/uuid.hpp"

#include <cstdint>
#include <random>

namespace rapi {

namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  return gen;
}

/// `hi` and `lo` in 8-4-4-4-12 form, with `version` and variant 10 set.
std::string format_uuid(std::uint64_t hi, std::uint64_t lo, unsigned version) {
  hi = (hi & 0xffffffffffff0fffULL) | (std::uint64_t{version & 0xf} << 12);
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i)
      out.push_back(hex[(v >> (i * 4)) & 0xf]);
  };
  put(hi >> 32, 8);
  out.push_back('-');
  put(hi >> 16, 4);
  out.push_back('-');
  put(hi, 4);
  out.push_back('-');
  put(lo >> 48, 4);
  out.push_back('-');
  put(lo, 12);
  return out;
}

} // namespace

std::string make_uuid() {
  auto& gen = generator();
  std::uint64_t hi = gen(), lo = gen();
  return format_uuid(hi, lo, 4);
}

std::string make_time_ordered_uuid(std::int64_t unix_ms) {
  auto& gen = generator();
  auto ms = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms)
            & 0xffffffffffffULL;
  std::uint64_t hi = (ms << 16) | (gen() & 0xffff);
  return format_uuid(hi, gen(), 7);
}

} // namespace rapi
