#include <boost/test/unit_test.hpp>

#include "actors/directory.hpp"
#include "actors/model.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// Unit tests of the agent directory: identifier lookup and provisioning with
// uniqueness (spec sections 2 and 3).

namespace {

using rapi::agent_entry_ptr;
using rapi::agent_profile;
using rapi::directory;
using rapi::id_kind;

agent_profile profile(std::int64_t id, std::string phone = {},
                      std::string crm = {}, std::string system = {},
                      std::string user = {}) {
  agent_profile p;
  p.id = id;
  p.phone = std::move(phone);
  p.crm_username = std::move(crm);
  p.system_username = std::move(system);
  p.username = std::move(user);
  return p;
}

struct directory_fixture {
  explicit directory_fixture(directory::hash_function hash = nullptr)
    : dir(hash) {}

  directory dir;
  std::vector<std::vector<agent_profile>> persisted;
  std::vector<std::int64_t> spawned;
  std::string persist_error;

  directory::provision_result provision(std::vector<agent_profile> ps) {
    auto r = dir.provision(ps, [this](const std::vector<agent_profile>& batch) {
      if (persist_error.empty())
        persisted.push_back(batch);
      return persist_error;
    });
    // New agents get no actor until used; record which entries were new.
    for (auto& e : r.created)
      spawned.push_back(e->id());
    return r;
  }

  void ok(std::vector<agent_profile> ps) {
    auto r = provision(std::move(ps));
    BOOST_REQUIRE_MESSAGE(r.conflict.empty(), "conflict: " << r.conflict);
    BOOST_REQUIRE_MESSAGE(r.storage_error.empty(),
                          "storage error: " << r.storage_error);
  }

  /// The id of the agent `value` of kind `k` finds, 0 for none.
  std::int64_t who(id_kind k, std::string_view value) const {
    auto e = dir.find(k, value);
    return e ? e->id() : 0;
  }
};

/// The demo directory of the spec: Id 1, Id 2 with Phone 805003, and
/// agents with Phone 5003 and 7000.
void seed(directory_fixture& f) {
  f.ok({profile(1, "", "alice@crm", "CORP\\alice", "alice"),
        profile(2, "805003", "jdoe@crm", "CORP\\jdoe", "jdoe"),
        profile(3, "5003"), profile(4, "7000")});
}

} // namespace

BOOST_AUTO_TEST_SUITE(directory_test)

BOOST_AUTO_TEST_CASE(parse_id_kind_accepts_names_and_aliases) {
  struct row {
    const char* text;
    id_kind kind;
  };
  const row rows[] = {
    {"Id", id_kind::id},
    {"id", id_kind::id},
    {"ID", id_kind::id},
    {"AgentId", id_kind::id},
    {"AgentID", id_kind::id},
    {"agentid", id_kind::id},
    {"Phone", id_kind::phone},
    {"PHONE", id_kind::phone},
    {"AgentPhone", id_kind::phone},
    {"agentphone", id_kind::phone},
    {"CrmUsername", id_kind::crm_username},
    {"crmusername", id_kind::crm_username},
    {"SystemUsername", id_kind::system_username},
    {"SYSTEMUSERNAME", id_kind::system_username},
    {"Username", id_kind::username},
    {"userName", id_kind::username},
  };
  for (auto& r : rows) {
    BOOST_TEST_CONTEXT("AgentIdentifier " << r.text) {
      auto k = rapi::parse_id_kind(r.text);
      BOOST_REQUIRE(k.has_value());
      BOOST_TEST((*k == r.kind));
    }
  }
  for (const char* bad : {"", "Agent", "Ids", "Phone ", "Email", "Device"}) {
    BOOST_TEST_CONTEXT("AgentIdentifier '" << bad << "'") {
      BOOST_TEST(!rapi::parse_id_kind(bad).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(to_string_names_each_kind) {
  BOOST_TEST(rapi::to_string(id_kind::id) == std::string("Id"));
  BOOST_TEST(rapi::to_string(id_kind::phone) == std::string("Phone"));
  BOOST_TEST(rapi::to_string(id_kind::crm_username)
             == std::string("CrmUsername"));
  BOOST_TEST(rapi::to_string(id_kind::system_username)
             == std::string("SystemUsername"));
  BOOST_TEST(rapi::to_string(id_kind::username) == std::string("Username"));
}

BOOST_FIXTURE_TEST_CASE(finds_by_id_numerically, directory_fixture) {
  seed(*this);
  BOOST_TEST(who(id_kind::id, "2") == 2);
  BOOST_TEST(who(id_kind::id, "02") == 2);
  BOOST_TEST(who(id_kind::id, "0002") == 2);
  BOOST_TEST(who(id_kind::id, "+2") == 2);
  BOOST_TEST(who(id_kind::id, "1") == 1);
  BOOST_TEST(who(id_kind::id, "9") == 0);
  BOOST_TEST(who(id_kind::id, "0") == 0);
  BOOST_TEST(who(id_kind::id, "-2") == 0);
  // Numerically: a JSON number written with a fraction or an exponent
  // names the same agent when its value is whole (contract §2).
  BOOST_TEST(who(id_kind::id, "2.0") == 2);
  BOOST_TEST(who(id_kind::id, "2.000") == 2);
  BOOST_TEST(who(id_kind::id, "2e0") == 2);
  BOOST_TEST(who(id_kind::id, "2E+0") == 2);
  BOOST_TEST(who(id_kind::id, "0.2e1") == 2);
  BOOST_TEST(who(id_kind::id, "20e-1") == 2);
  BOOST_TEST(who(id_kind::id, "200E-2") == 2);
  BOOST_TEST(who(id_kind::id, "+2.0") == 2);
  BOOST_TEST(who(id_kind::id, "2.5") == 0);
  BOOST_TEST(who(id_kind::id, "21e-1") == 0);
  BOOST_TEST(who(id_kind::id, "2.") == 0);
  BOOST_TEST(who(id_kind::id, ".2e1") == 0);
  BOOST_TEST(who(id_kind::id, "2e") == 0);
  BOOST_TEST(who(id_kind::id, "2e+") == 0);
  BOOST_TEST(who(id_kind::id, "-2.0") == 0);
  BOOST_TEST(who(id_kind::id, "0.0") == 0);
  BOOST_TEST(who(id_kind::id, "0x2") == 0);
  BOOST_TEST(who(id_kind::id, "2.0 ") == 0);
  BOOST_TEST(who(id_kind::id, "1e999999") == 0);
  BOOST_TEST(who(id_kind::id, "1e-999999") == 0);
  BOOST_TEST(who(id_kind::id, "two") == 0);
  BOOST_TEST(who(id_kind::id, "") == 0);
  BOOST_TEST(who(id_kind::id, "99999999999999999999999") == 0);
  BOOST_TEST(dir.find_id(2) != nullptr);
  BOOST_TEST(dir.find_id(2)->id() == 2);
  BOOST_TEST(dir.find_id(5) == nullptr);
}

BOOST_FIXTURE_TEST_CASE(finds_usernames_case_insensitively,
                        directory_fixture) {
  seed(*this);
  BOOST_TEST(who(id_kind::crm_username, "jdoe@crm") == 2);
  BOOST_TEST(who(id_kind::crm_username, "JDoe@CRM") == 2);
  BOOST_TEST(who(id_kind::system_username, "corp\\JDOE") == 2);
  BOOST_TEST(who(id_kind::username, "JDOE") == 2);
  BOOST_TEST(who(id_kind::username, "Alice") == 1);
  // Kinds do not mix: a CrmUsername is not a Username.
  BOOST_TEST(who(id_kind::username, "jdoe@crm") == 0);
  BOOST_TEST(who(id_kind::crm_username, "jdoe") == 0);
  BOOST_TEST(who(id_kind::username, "") == 0);
}

BOOST_FIXTURE_TEST_CASE(finds_phones_exactly, directory_fixture) {
  seed(*this);
  BOOST_TEST(who(id_kind::phone, "805003") == 2);
  BOOST_TEST(who(id_kind::phone, "5003") == 3);
  BOOST_TEST(who(id_kind::phone, "7000") == 4);
  BOOST_TEST(who(id_kind::phone, "05003") == 0);
  BOOST_TEST(who(id_kind::phone, " 5003") == 0);
  BOOST_TEST(who(id_kind::phone, "") == 0);
  // A phone is not an id and the other way round.
  BOOST_TEST(who(id_kind::id, "5003") == 0);
  BOOST_TEST(who(id_kind::phone, "2") == 0);
}

BOOST_FIXTURE_TEST_CASE(provision_creates_and_spawns, directory_fixture) {
  auto r = provision({profile(7, "700"), profile(3, "300")});
  BOOST_TEST(r.conflict.empty());
  BOOST_TEST(r.storage_error.empty());
  BOOST_TEST(r.created.size() == 2u);
  BOOST_TEST(r.updated.empty());
  BOOST_REQUIRE(persisted.size() == 1u);
  BOOST_TEST(persisted[0].size() == 2u);
  BOOST_TEST(spawned == (std::vector<std::int64_t>{7, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(dir.size() == 2u);
  auto e = dir.find_id(7);
  BOOST_REQUIRE(e != nullptr);
  BOOST_REQUIRE(e->profile() != nullptr);
  BOOST_TEST((*e->profile() == profile(7, "700")));
  BOOST_REQUIRE(e->live() != nullptr);
  BOOST_TEST(!e->live()->active_call.has_value());
  // Provisioning it again updates; nothing is spawned.
  auto again = provision({profile(7, "701")});
  BOOST_TEST(again.created.empty());
  BOOST_REQUIRE(again.updated.size() == 1u);
  BOOST_TEST(again.updated[0] == e);
  BOOST_TEST(spawned.size() == 2u);
  BOOST_TEST(dir.find_id(7)->profile()->phone == "701");
}

BOOST_FIXTURE_TEST_CASE(all_is_ordered_by_id, directory_fixture) {
  ok({profile(30), profile(4)});
  ok({profile(100), profile(1), profile(22)});
  std::vector<std::int64_t> ids;
  for (auto& e : dir.all())
    ids.push_back(e->id());
  BOOST_TEST(ids == (std::vector<std::int64_t>{1, 4, 22, 30, 100}),
             boost::test_tools::per_element());
  BOOST_TEST(dir.size() == 5u);
}

BOOST_FIXTURE_TEST_CASE(empty_directory, directory_fixture) {
  BOOST_TEST(dir.all().empty());
  BOOST_TEST(dir.size() == 0u);
  BOOST_TEST(who(id_kind::id, "1") == 0);
}

BOOST_FIXTURE_TEST_CASE(same_phone_on_two_agents_conflicts,
                        directory_fixture) {
  seed(*this);
  persisted.clear();
  auto r = provision({profile(9, "805003")});
  BOOST_TEST(!r.conflict.empty());
  BOOST_TEST(r.conflict.find("AgentPhone") != std::string::npos);
  BOOST_TEST(r.conflict.find("805003") != std::string::npos);
  BOOST_TEST(r.conflict.find("2") != std::string::npos);
  BOOST_TEST(r.created.empty());
  BOOST_TEST(persisted.empty());
  BOOST_TEST(dir.find_id(9) == nullptr);
  BOOST_TEST(who(id_kind::phone, "805003") == 2);
  // Updating an existing agent to take another's phone conflicts too.
  auto upd = provision({profile(3, "7000")});
  BOOST_TEST(upd.conflict.find("AgentPhone '7000'") != std::string::npos);
  BOOST_TEST(who(id_kind::phone, "5003") == 3);
  BOOST_TEST(who(id_kind::phone, "7000") == 4);
}

BOOST_FIXTURE_TEST_CASE(each_identifier_kind_must_be_unique,
                        directory_fixture) {
  seed(*this);
  struct row {
    agent_profile p;
    const char* field;
  };
  const row rows[] = {
    {profile(9, "", "JDOE@crm"), "CrmUsername"},
    {profile(9, "", "", "corp\\jdoe"), "SystemUsername"},
    {profile(9, "", "", "", "JDoe"), "Username"},
  };
  for (auto& r : rows) {
    BOOST_TEST_CONTEXT("field " << r.field) {
      auto res = provision({r.p});
      BOOST_TEST(res.conflict.find(r.field) != std::string::npos);
      BOOST_TEST(dir.find_id(9) == nullptr);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(same_identifier_twice_in_one_batch,
                        directory_fixture) {
  auto r = provision({profile(1, "100"), profile(2, "100")});
  BOOST_TEST(r.conflict.find("AgentPhone '100'") != std::string::npos);
  BOOST_TEST(r.conflict.find("AgentID 1") != std::string::npos);
  BOOST_TEST(r.conflict.find("AgentID 2") != std::string::npos);
  BOOST_TEST(persisted.empty());
  BOOST_TEST(dir.size() == 0u);
  BOOST_TEST(spawned.empty());
}

BOOST_FIXTURE_TEST_CASE(duplicate_id_in_one_batch, directory_fixture) {
  auto r = provision({profile(5, "100"), profile(5, "200")});
  BOOST_TEST(r.conflict.find("AgentID 5") != std::string::npos);
  BOOST_TEST(persisted.empty());
  BOOST_TEST(dir.size() == 0u);
  BOOST_TEST(spawned.empty());
}

BOOST_FIXTURE_TEST_CASE(swapping_phones_in_one_batch_is_allowed,
                        directory_fixture) {
  seed(*this);
  ok({profile(3, "7000"), profile(4, "5003")});
  BOOST_TEST(who(id_kind::phone, "7000") == 3);
  BOOST_TEST(who(id_kind::phone, "5003") == 4);
  BOOST_TEST(dir.size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(moving_an_identifier_within_a_batch,
                        directory_fixture) {
  seed(*this);
  // Agent 4 gives up 7000 and a new agent 5 takes it, in one batch.
  ok({profile(5, "7000"), profile(4, "7001")});
  BOOST_TEST(who(id_kind::phone, "7000") == 5);
  BOOST_TEST(who(id_kind::phone, "7001") == 4);
  // But an agent of the batch that keeps the identifier still owns it.
  auto r = provision({profile(6, "7001"), profile(4, "7001")});
  BOOST_TEST(r.conflict.find("AgentPhone '7001'") != std::string::npos);
  BOOST_TEST(dir.find_id(6) == nullptr);
}

BOOST_FIXTURE_TEST_CASE(update_removes_old_identifiers, directory_fixture) {
  seed(*this);
  ok({profile(2, "805004", "jdoe2@crm", "", "")});
  BOOST_TEST(who(id_kind::phone, "805003") == 0);
  BOOST_TEST(who(id_kind::phone, "805004") == 2);
  BOOST_TEST(who(id_kind::crm_username, "jdoe@crm") == 0);
  BOOST_TEST(who(id_kind::crm_username, "jdoe2@crm") == 2);
  BOOST_TEST(who(id_kind::system_username, "CORP\\jdoe") == 0);
  BOOST_TEST(who(id_kind::username, "jdoe") == 0);
  BOOST_TEST(who(id_kind::id, "2") == 2);
  // The freed identifiers can go to someone else.
  ok({profile(9, "805003", "jdoe@crm", "CORP\\jdoe", "jdoe")});
  BOOST_TEST(who(id_kind::phone, "805003") == 9);
  BOOST_TEST(who(id_kind::username, "JDOE") == 9);
}

BOOST_FIXTURE_TEST_CASE(case_change_of_own_username_is_allowed,
                        directory_fixture) {
  seed(*this);
  ok({profile(2, "805003", "JDoe@CRM", "CORP\\jdoe", "JDoe")});
  BOOST_TEST(who(id_kind::username, "jdoe") == 2);
  BOOST_TEST(dir.find_id(2)->profile()->username == "JDoe");
}

BOOST_FIXTURE_TEST_CASE(unindex_forgets_the_agent, directory_fixture) {
  seed(*this);
  auto entry = dir.find_id(2);
  dir.unindex(2);
  BOOST_TEST(dir.find_id(2) == nullptr);
  BOOST_TEST(who(id_kind::id, "2") == 0);
  BOOST_TEST(who(id_kind::phone, "805003") == 0);
  BOOST_TEST(who(id_kind::crm_username, "jdoe@crm") == 0);
  BOOST_TEST(who(id_kind::system_username, "CORP\\jdoe") == 0);
  BOOST_TEST(who(id_kind::username, "jdoe") == 0);
  BOOST_TEST(dir.size() == 3u);
  for (auto& e : dir.all())
    BOOST_TEST(e->id() != 2);
  // Others are untouched; unindexing an unknown id is harmless.
  BOOST_TEST(who(id_kind::phone, "5003") == 3);
  dir.unindex(2);
  dir.unindex(42);
  BOOST_TEST(dir.size() == 3u);
  // The identifiers are free again, and the id can be provisioned anew.
  auto r = provision({profile(2, "805003")});
  BOOST_TEST(r.conflict.empty());
  BOOST_REQUIRE(r.created.size() == 1u);
  BOOST_TEST(r.created[0] != entry);
  BOOST_TEST(who(id_kind::phone, "805003") == 2);
}

BOOST_FIXTURE_TEST_CASE(persist_failure_changes_nothing, directory_fixture) {
  seed(*this);
  spawned.clear();
  persist_error = "IO error: No space left on device";
  auto r = provision({profile(9, "900"), profile(2, "805004")});
  BOOST_TEST(r.storage_error == persist_error);
  BOOST_TEST(r.conflict.empty());
  BOOST_TEST(r.created.empty());
  BOOST_TEST(r.updated.empty());
  BOOST_TEST(spawned.empty());
  BOOST_TEST(dir.find_id(9) == nullptr);
  BOOST_TEST(who(id_kind::phone, "900") == 0);
  BOOST_TEST(who(id_kind::phone, "805003") == 2);
  BOOST_TEST(who(id_kind::phone, "805004") == 0);
  BOOST_TEST(dir.find_id(2)->profile()->phone == "805003");
  BOOST_TEST(dir.size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(conflict_does_not_persist, directory_fixture) {
  seed(*this);
  persisted.clear();
  auto r = provision({profile(9, "900"), profile(10, "5003")});
  BOOST_TEST(!r.conflict.empty());
  BOOST_TEST(persisted.empty());
  // Nothing of the batch is applied, not even the valid member.
  BOOST_TEST(dir.find_id(9) == nullptr);
  BOOST_TEST(who(id_kind::phone, "900") == 0);
}

BOOST_FIXTURE_TEST_CASE(restore_indexes_without_checks, directory_fixture) {
  auto e = std::make_shared<rapi::agent_entry>(12);
  e->set_profile(std::make_shared<const agent_profile>(
    profile(12, "1200", "", "", "Restored")));
  dir.restore(e);
  BOOST_TEST(who(id_kind::phone, "1200") == 12);
  BOOST_TEST(who(id_kind::username, "restored") == 12);
  BOOST_TEST(dir.size() == 1u);
}

// The index keeps hashes of identifiers, each checked against the agent's
// profile: with every identifier hashing alike, lookups must still tell
// the agents apart, and removing one agent must leave the others found.
std::uint64_t one_hash(const std::string&) { return 42; }

BOOST_AUTO_TEST_CASE(colliding_hashes_still_find_the_right_agent) {
  directory_fixture f{one_hash};
  seed(f);
  BOOST_TEST(f.who(id_kind::id, "2") == 2);
  BOOST_TEST(f.who(id_kind::phone, "805003") == 2);
  BOOST_TEST(f.who(id_kind::phone, "5003") == 3);
  BOOST_TEST(f.who(id_kind::username, "ALICE") == 1);
  BOOST_TEST(f.who(id_kind::crm_username, "JDoe@CRM") == 2);
  BOOST_TEST(f.who(id_kind::system_username, "corp\\jdoe") == 2);
  // A value held under another kind is not a match.
  BOOST_TEST(f.who(id_kind::phone, "alice") == 0);
  BOOST_TEST(f.who(id_kind::username, "805003") == 0);
  BOOST_TEST(f.who(id_kind::id, "5") == 0);
  // Uniqueness is still checked per identifier, not per hash.
  auto r = f.provision({profile(5, "5003")});
  BOOST_TEST(r.conflict == "AgentPhone '5003' already belongs to AgentID 3");
  f.ok({profile(5, "9999", "", "", "eve")});
  BOOST_TEST(f.who(id_kind::username, "eve") == 5);
  f.dir.unindex(2);
  BOOST_TEST(f.who(id_kind::phone, "805003") == 0);
  BOOST_TEST(f.who(id_kind::id, "2") == 0);
  BOOST_TEST(f.who(id_kind::phone, "5003") == 3);
  BOOST_TEST(f.who(id_kind::username, "alice") == 1);
  // An identifier moved to another agent is found there only.
  f.ok({profile(1, "", "alice@crm", "CORP\\alice", "alice2"),
        profile(4, "7000", "", "", "alice")});
  BOOST_TEST(f.who(id_kind::username, "alice") == 4);
  BOOST_TEST(f.who(id_kind::username, "alice2") == 1);
}

BOOST_FIXTURE_TEST_CASE(many_agents_are_each_found_by_every_identifier,
                        directory_fixture) {
  std::vector<agent_profile> ps;
  for (std::int64_t id = 1; id <= 20000; ++id) {
    auto n = std::to_string(id);
    ps.push_back(profile(id, "p" + n, "c" + n + "@crm", "CORP\\s" + n,
                         "U" + n));
  }
  ok(ps);
  for (std::int64_t id = 1; id <= 20000; id += 7) {
    auto n = std::to_string(id);
    BOOST_REQUIRE_EQUAL(who(id_kind::id, n), id);
    BOOST_REQUIRE_EQUAL(who(id_kind::phone, "p" + n), id);
    BOOST_REQUIRE_EQUAL(who(id_kind::crm_username, "C" + n + "@CRM"), id);
    BOOST_REQUIRE_EQUAL(who(id_kind::system_username, "corp\\s" + n), id);
    BOOST_REQUIRE_EQUAL(who(id_kind::username, "u" + n), id);
  }
  for (std::int64_t id = 2; id <= 20000; id += 2)
    dir.unindex(id);
  BOOST_TEST(dir.size() == 10000u);
  BOOST_TEST(who(id_kind::phone, "p2") == 0);
  BOOST_TEST(who(id_kind::username, "u3") == 3);
}

BOOST_AUTO_TEST_CASE(index_key_normalises) {
  BOOST_TEST(rapi::index_key(id_kind::id, "007") == "i7");
  BOOST_TEST(rapi::index_key(id_kind::id, "x").empty());
  BOOST_TEST(rapi::index_key(id_kind::id, "0").empty());
  BOOST_TEST(rapi::index_key(id_kind::username, "JDoe") == "ujdoe");
  BOOST_TEST(rapi::index_key(id_kind::phone, "805003") == "p805003");
  BOOST_TEST(rapi::index_key(id_kind::phone, "").empty());
  auto keys = rapi::identity_keys(profile(2, "805003", "C", "S", "U"));
  BOOST_TEST(keys == (std::vector<std::string>{"i2", "p805003", "cc", "ss",
                                                "uu"}),
             boost::test_tools::per_element());
  BOOST_TEST(rapi::identity_keys(profile(3)).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
