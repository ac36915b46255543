/// Damaged or foreign data folders and a full disk (spec §7): the server
/// refuses with a clear message and a non-zero exit, never rewrites what it
/// cannot read, and answers 500 (staying up) when a runtime write cannot be
/// stored.

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "storage/keys.hpp"
#include "storage/kv_store.hpp"
#include "tests/integration/fixture.hpp"

using namespace rapi::test;

namespace {

/// A fingerprint of a folder: every file's name and content.
std::string fingerprint(const std::string& dir) {
  std::string cmd = "cd '" + dir + "' && find . -type f ! -name 'LOG*' | sort | xargs md5sum";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p))
      out += buf;
    ::pclose(p);
  }
  return out;
}

void put_key(const std::string& dir, const std::string& key,
             const std::string& value) {
  std::string error;
  rapi::rocksdb_options opts;
  opts.min_free_bytes = 0;
  auto db = rapi::open_rocksdb(dir, opts, error);
  BOOST_REQUIRE_MESSAGE(db, error);
  rapi::write_batch b;
  b.put(key, value);
  BOOST_REQUIRE(db->write(b).ok());
}

/// Read-only: looking must not change the folder (no write-ahead-log
/// replay, no compaction running in this process meanwhile).
std::string get_key(const std::string& dir, const std::string& key) {
  std::string error;
  auto db = rapi::open_rocksdb_readonly(dir, error);
  BOOST_REQUIRE_MESSAGE(db, "no readable database in " + dir + ": " + error);
  rapi::storage_status st;
  return db->get(key, st).value_or("(absent)");
}

std::vector<std::string> args_for(const std::string& dir) {
  return {"--port", "0", "--admin-port", "0", "--data-dir", dir};
}

/// A small tmpfs of our own, unmounted on destruction; `ok` is false where
/// mounting is not allowed (the test then says so and checks nothing).
struct small_disk {
  std::string dir;
  bool ok = false;

  explicit small_disk(const std::string& size) {
    dir = make_temp_dir("rapi-disk");
    ok = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str())
         == 0;
  }
  ~small_disk() {
    if (ok)
      ::umount2(dir.c_str(), MNT_DETACH);
    remove_dir(dir);
  }

  /// Leaves about `leave` bytes free.
  void fill(std::int64_t leave) {
    auto path = dir + "/filler";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
    BOOST_REQUIRE(fd >= 0);
    std::string chunk(1 << 20, 'x');
    for (;;) {
      auto avail = available();
      if (avail <= leave)
        break;
      auto n = std::min<std::int64_t>(avail - leave, chunk.size());
      if (::write(fd, chunk.data(), static_cast<std::size_t>(n)) <= 0)
        break;
    }
    ::close(fd);
  }
  void unfill() { ::unlink((dir + "/filler").c_str()); }

  std::int64_t available() const {
    std::string cmd = "df -B1 --output=avail '" + dir + "' | tail -1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[128];
      while (std::fgets(buf, sizeof buf, p))
        out += buf;
      ::pclose(p);
    }
    return std::stoll(out);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(damaged_data)

BOOST_AUTO_TEST_CASE(newer_layout_is_refused_untouched) {
  auto dir = make_temp_dir();
  put_key(dir, std::string(rapi::keys::layout), "99");
  put_key(dir, "p:0000000000000001", "from the future");
  auto before = fingerprint(dir);
  auto r = run_binary(args_for(dir));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("layout 99") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("newer") != std::string::npos, r.output);
  BOOST_TEST(fingerprint(dir) == before);
  BOOST_TEST(get_key(dir, std::string(rapi::keys::layout)) == "99");
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(layout_1_folder_is_read_and_marked_2) {
  // Layout 1 (storage/README.md) stored every recording in full inside the
  // agent's live state, and the blackout history as ISO times.
  auto dir = make_temp_dir();
  const std::string rec = "0b6d3c2e-1f4a-4c5b-8d9e-0a1b2c3d4e5f";
  put_key(dir, std::string(rapi::keys::layout), "1");
  put_key(dir, "p:0000000000000007",
          R"({"AgentId":7,"BusinessUnit":null,"AgentPhone":"7007",)"
          R"("SystemUsername":null,"CrmUsername":null,"Username":null,)"
          R"("DeviceId":null,"DeviceAlias":null})");
  put_key(dir, "a:0000000000000007",
          R"({"ActiveCall":{"CallInstance":"c-7","CallIdentifier":null,)"
          R"("CallState":"OnCall","StartTime":"2026-11-29T10:00:00.000+00:00",)"
          R"("Recordings":[{"RecordingIdentifier":")" + rec + R"(",)"
          R"("Kind":"Audio","IsDuplicate":false,"RecordingState":"Recording",)"
          R"("AgentId":7,"CallInstance":"c-7","CallIdentifier":null,)"
          R"("StartTime":"2026-11-29T10:00:01.000+00:00","StopTime":null,)"
          R"("StopReason":null,"Metadata":{"ani":"5550100"},"Blackouts":[],)"
          R"("ServerId":"old"}],"Metadata":{"ani":"5550100"}},)"
          R"("InactiveCalls":[],"DesktopOnlySessions":[],)"
          R"("Blackout":{"Active":false,"StartTime":"2026-11-29T09:00:00.000+00:00",)"
          R"("StopTime":"2026-11-29T09:00:05.000+00:00","ScheduledStopTime":null,)"
          R"("Origin":"old","ScheduledStartTime":null,"History":[{"StartTime":)"
          R"("2026-11-29T09:00:00.000+00:00","StopTime":)"
          R"("2026-11-29T09:00:05.000+00:00"}],"Version":{"Wall":1,"Logical":0}},)"
          R"("Recent":[]})");
  {
    server_options o;
    o.data_dir = dir;
    server_process srv(o);
    auto api = srv.api();
    auto r = api.get("/api/Agent?agentIdentifier=Id&value=7");
    BOOST_REQUIRE(r.status == 200);
    auto j = json(r);
    BOOST_REQUIRE(j && j->IsObject() && (*j)["ActiveCall"].IsObject());
    BOOST_TEST(str((*j)["ActiveCall"]["CallInstance"]) == "c-7");
    auto& recs = (*j)["ActiveCall"]["Recordings"];
    BOOST_REQUIRE(recs.IsArray() && recs.Size() == 1u);
    BOOST_TEST(str(recs[0]["RecordingIdentifier"]) == rec);
    // A change after the upgrade is stored in layout 2.
    r = api.post("/api/Record/StopForAgent",
                 R"({"AgentIdentifier":"Id","Value":"7"})");
    BOOST_TEST(r.status == 200, r.body);
    BOOST_TEST(srv.stop() == 0);
  }
  BOOST_TEST(get_key(dir, std::string(rapi::keys::layout)) == "2");
  auto live = get_key(dir, "a:0000000000000007");
  BOOST_TEST(live.find("\"Recordings\":[\"" + rec + "\"]") != std::string::npos,
             live);
  BOOST_TEST(get_key(dir, "r:" + rec).find("\"Completed\"") != std::string::npos);
  // The history survived the change of form.
  BOOST_TEST(live.find("\"History\":[[") != std::string::npos, live);
  // And the next start reads what it wrote.
  {
    server_options o;
    o.data_dir = dir;
    server_process srv(o);
    auto r = srv.api().get("/api/Agent?agentIdentifier=Id&value=7");
    BOOST_REQUIRE(r.status == 200);
    auto j = json(r);
    BOOST_REQUIRE(j && (*j)["ActiveCall"].IsObject());
    BOOST_TEST(str((*j)["ActiveCall"]["Recordings"][0]["RecordingState"])
               == "Completed");
    BOOST_TEST(srv.stop() == 0);
  }
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(keys_without_layout_are_refused) {
  auto dir = make_temp_dir();
  put_key(dir, "something", "else");
  auto r = run_binary(args_for(dir));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("no layout version") != std::string::npos,
             r.output);
  BOOST_TEST(get_key(dir, std::string(rapi::keys::layout)) == "(absent)");
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(corrupt_database_is_refused_untouched) {
  server_options o;
  o.keep_data = true;
  std::string dir;
  {
    server_process srv(o);
    dir = srv.data_dir();
    BOOST_TEST(srv.stop() == 0);
  }
  // Break the pointer to the current manifest.
  {
    std::ofstream f(dir + "/CURRENT", std::ios::trunc);
    f << "MANIFEST-999999\n";
  }
  auto before = fingerprint(dir);
  auto r = run_binary(args_for(dir));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("cannot open the RocksDB database") != std::string::npos,
             r.output);
  BOOST_TEST(fingerprint(dir) == before);
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(unreadable_stored_agent_is_refused_untouched) {
  server_options o;
  o.keep_data = true;
  std::string dir;
  {
    server_process srv(o);
    dir = srv.data_dir();
    BOOST_TEST(srv.stop() == 0);
  }
  put_key(dir, "p:0000000000000007", "{not json");
  auto r = run_binary(args_for(dir));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("unreadable") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("left untouched") != std::string::npos, r.output);
  BOOST_TEST(get_key(dir, "p:0000000000000007") == "{not json");
  remove_dir(dir);
}

BOOST_AUTO_TEST_CASE(full_disk_at_start_is_refused) {
  small_disk disk("16m");
  if (!disk.ok) {
    BOOST_TEST_MESSAGE("cannot mount a tmpfs here; full-disk test skipped");
    return;
  }
  disk.fill(1 << 20);
  auto r = run_binary(args_for(disk.dir + "/data"));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("free") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("storage.min_free_bytes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(full_disk_at_runtime_answers_500_and_keeps_serving) {
  small_disk disk("320m");
  if (!disk.ok) {
    BOOST_TEST_MESSAGE("cannot mount a tmpfs here; full-disk test skipped");
    return;
  }
  auto cfg_dir = make_temp_dir("rapi-cfg");
  {
    std::ofstream f(cfg_dir + "/c.json");
    f << R"({"storage": {"min_free_bytes": 67108864}})";
  }
  server_options o;
  o.data_dir = disk.dir + "/data";
  o.keep_data = true;
  o.extra_args = {"--agents", demo_agents_file(), "--config",
                  cfg_dir + "/c.json"};
  server_process srv(o);
  auto api = srv.api();
  BOOST_REQUIRE(api.post("/api/Cti/Events",
                         R"({"AgentIdentifier":"Id","Value":"2","Type":"CallStarted","CallId":"c-1"})")
                  .status
                == 200);
  auto before = api.get("/api/Agent?agentIdentifier=Id&value=2").body;
  disk.fill(32 << 20); // below the 64 MiB reserve
  // The free space is re-read at most every 100 ms (and the journal's folds
  // read it too): another agent's changes show when the server has seen
  // the full disk.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i)
    if (api.post("/api/Cti/Events",
                 R"({"AgentIdentifier":"Id","Value":"3","Type":"CallStarted","CallId":"p-)"
                   + std::to_string(i) + "\"}")
          .status
        == 500)
      break;
  auto r = api.post("/api/Record/StartForAgent",
                    R"({"AgentIdentifier":"Id","Value":"2"})");
  check_error(r, 500, "StorageFailure");
  BOOST_TEST(str((*json(r))["Message"]).find("nearly full") != std::string::npos);
  // Nothing changed, reads go on, the server is up.
  BOOST_TEST(api.get("/api/Agent?agentIdentifier=Id&value=2").body == before);
  BOOST_TEST(srv.running());
  // Space comes back: writes work again.
  disk.unfill();
  r = api.post("/api/Record/StartForAgent",
               R"({"AgentIdentifier":"Id","Value":"2"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(srv.stop() == 0);
  remove_dir(cfg_dir);
}

BOOST_AUTO_TEST_SUITE_END()
