#include <boost/test/unit_test.hpp>

#include "storage/pending_table.hpp"

#include <map>
#include <random>
#include <string>
#include <vector>

using rapi::pending_table;
using rapi::pending_value;

namespace {

/// What the table holds, as an ordered map (for comparing).
std::map<std::string, std::string> contents(const pending_table& t) {
  std::map<std::string, std::string> out;
  t.for_each([&](std::string_view k, const pending_value& v) {
    BOOST_TEST(out.count(std::string(k)) == 0u, "a key twice: " << k);
    out[std::string(k)] = v.erase ? "<erased>" : std::string(v.data, v.size);
  });
  return out;
}

std::uint64_t always_7(std::string_view) {
  return 7;
}

/// Checks `t` against a model through many puts of short and long keys
/// (views into `arena`, which outlives them), then clears and goes again.
void exercise(pending_table& t) {
  std::mt19937 rng(20261201);
  std::vector<std::string> arena;
  arena.reserve(200000);
  std::map<std::string, std::string> model;
  for (int round = 0; round < 3; ++round) {
    model.clear();
    for (int i = 0; i < 30000; ++i) {
      auto n = rng() % 3000;
      // Short (inline) and long (viewed) keys, as the journal has: an
      // agent's, a recording's and an index key.
      std::string key = n % 3 == 0   ? "a:" + std::to_string(n)
                        : n % 3 == 1 ? "r:0b6d3c2e-1f4a-4c5b-8d9e-" + std::to_string(n)
                                     : "t:7ffffffffffffc17:fffffffffffffffa:"
                                         + std::to_string(n) + "-long-key";
      arena.push_back(key); // a fresh copy: the newest record's bytes
      const std::string& k = arena.back();
      arena.push_back("v" + std::to_string(i));
      const std::string& v = arena.back();
      const bool erase = rng() % 10 == 0;
      t.put(k, {v.data(), static_cast<std::uint32_t>(v.size()), erase});
      model[key] = erase ? "<erased>" : v;
      if (i % 997 == 0) {
        pending_value got;
        BOOST_REQUIRE(t.find(key, got));
        BOOST_TEST(got.erase == erase);
        BOOST_TEST(t.find("never-put", got) == false);
      }
    }
    BOOST_TEST(t.size() == model.size());
    BOOST_TEST(contents(t) == model);
    for (auto& [k, v] : model) {
      pending_value got;
      BOOST_REQUIRE(t.find(k, got));
      BOOST_TEST((got.erase ? std::string("<erased>")
                            : std::string(got.data, got.size))
                 == v);
    }
    auto cap = t.capacity();
    t.clear();
    BOOST_TEST(t.empty());
    BOOST_TEST(t.capacity() == cap); // kept for the next round
    BOOST_TEST(contents(t).empty());
    pending_value got;
    BOOST_TEST(!t.find(model.begin()->first, got));
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(pending_table_suite)

BOOST_AUTO_TEST_CASE(holds_each_keys_newest_value) {
  pending_table t;
  BOOST_TEST(t.empty());
  pending_value got;
  BOOST_TEST(!t.find("a:1", got)); // empty, no slots yet
  const std::string v1 = "one", v2 = "two";
  t.put("a:1", {v1.data(), 3, false});
  t.put("a:1", {v2.data(), 3, false});
  t.put("a:2", {nullptr, 0, true});
  BOOST_TEST(t.size() == 2u);
  BOOST_REQUIRE(t.find("a:1", got));
  BOOST_TEST(std::string(got.data, got.size) == "two");
  BOOST_REQUIRE(t.find("a:2", got));
  BOOST_TEST(got.erase);
  BOOST_TEST(!t.find("a:3", got));
}

BOOST_AUTO_TEST_CASE(grows_and_is_reused_after_clear) {
  pending_table t;
  exercise(t);
  BOOST_TEST(t.capacity() >= 2 * 3000u);
}

BOOST_AUTO_TEST_CASE(colliding_hashes_still_find_the_right_key) {
  // Every key hashes alike: probing must tell them apart by the key.
  pending_table t(&always_7);
  const std::string a = "a:1", b = "a:2", va = "A", vb = "B";
  t.put(a, {va.data(), 1, false});
  t.put(b, {vb.data(), 1, false});
  pending_value got;
  BOOST_REQUIRE(t.find("a:2", got));
  BOOST_TEST(std::string(got.data, got.size) == "B");
  BOOST_REQUIRE(t.find("a:1", got));
  BOOST_TEST(std::string(got.data, got.size) == "A");
  BOOST_TEST(!t.find("a:3", got));
}

BOOST_AUTO_TEST_CASE(a_large_table_gives_its_memory_back_when_cleared) {
  pending_table t;
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i)
    keys.push_back("k" + std::to_string(i));
  for (auto& k : keys)
    t.put(k, {nullptr, 0, true});
  BOOST_TEST(t.capacity() > 4096u);
  t.clear(4096);
  BOOST_TEST(t.capacity() == 0u);
  BOOST_TEST(t.empty());
  t.put(keys[0], {nullptr, 0, true}); // and works again
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_CASE(swap_exchanges_contents) {
  pending_table a, b;
  const std::string v = "v";
  a.put("a:1", {v.data(), 1, false});
  a.swap(b);
  pending_value got;
  BOOST_TEST(a.empty());
  BOOST_TEST(!a.find("a:1", got));
  BOOST_TEST(b.find("a:1", got));
}

BOOST_AUTO_TEST_SUITE_END()
