/// The publisher of one cluster node, in process, against the test
/// command's real broker: an outbox entry whose batch commits after a
/// higher key's was already sent is published all the same (agents on two
/// HTTP threads take outbox keys in one order and can commit in the other).

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "actors/hlc.hpp"
#include "cluster/cluster_node.hpp"
#include "cluster/messages.hpp"
#include "common/uuid.hpp"
#include "storage/memory_store.hpp"

using namespace std::chrono_literals;

namespace {

/// Polls `done` until it holds or 15 s pass.
bool within_deadline(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

} // namespace

BOOST_AUTO_TEST_SUITE(outbox_order)

BOOST_AUTO_TEST_CASE(an_entry_committed_after_a_higher_key_was_sent_is_published) {
  const char* url = std::getenv("RAPI_AMQP_URL");
  BOOST_REQUIRE_MESSAGE(url != nullptr,
                        "RAPI_AMQP_URL is not set: run the suite through "
                        "scripts/test.sh, which starts the broker");
  rapi::memory_store store;
  rapi::hybrid_clock hlc;
  rapi::cluster::settings s;
  s.enabled = true;
  s.server_id = "order-" + rapi::make_uuid().substr(0, 8);
  s.brokers = {url};
  s.exchange = "recording-api.test-order-" + s.server_id;
  rapi::cluster::hooks h;
  h.now = [] { return rapi::timestamp{0}; };
  h.apply = [](std::int64_t, const rapi::blackout_state&,
               std::function<void()> done) { done(); };
  h.for_each_blackout = [](const auto&) {};
  rapi::cluster::node n(s, store, hlc, h);
  n.start();
  auto outbox_empty = [&] { return n.stats().outbox_depth == 0; };
  BOOST_REQUIRE(within_deadline([&] {
    return n.stats().publisher_connected && n.stats().published > 0
           && outbox_empty();
  }));
  const auto published = n.stats().published;

  // Keys taken in one order, committed in the other.
  auto lower = n.next_outbox_key();
  auto higher = n.next_outbox_key();
  auto commit = [&](const std::string& key) {
    rapi::write_batch b;
    b.put(key, rapi::cluster::encode_control(s.server_id,
                                             rapi::cluster::message_type::hello));
    BOOST_REQUIRE(store.write(b).ok());
    n.outbox_committed(key);
  };
  commit(higher);
  BOOST_REQUIRE(within_deadline(outbox_empty)); // sent and confirmed
  commit(lower);
  BOOST_TEST(within_deadline(outbox_empty));
  BOOST_TEST(n.stats().published >= published + 2);
  rapi::storage_status st;
  BOOST_TEST(!store.get(lower, st)); // deleted once confirmed
  n.stop();
}

BOOST_AUTO_TEST_SUITE_END()
