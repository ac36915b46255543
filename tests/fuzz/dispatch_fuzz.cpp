// The whole request path without sockets: handlers::dispatch with a fake
// exchange, the demo agents in a directory, an in-memory store, and a fake
// `send` that runs each agent's pure state logic synchronously (as the
// agent actor does: apply, persist, publish, answer).
//
// Input: one or more requests in the style of .http files, separated by
// lines "###" (state carries over from one request to the next):
//
//   POST /api/Record/StartForAgent?optional=query
//   Content-Type: application/json
//   Authorization: Bearer fuzz-admin-token
//
//   {"AgentIdentifier":"Id", "Value":"2"}
//
// Paths under /admin go to the admin listener, everything else to the API
// listener. The admin token is "fuzz-admin-token"; the API needs no key.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/agent_state.hpp"
#include "actors/agent_store.hpp"
#include "actors/codec.hpp"
#include "actors/directory.hpp"
#include "common/json_value.hpp"
#include "http/exchange.hpp"
#include "http/handlers.hpp"
#include "storage/memory_store.hpp"
#include "tests/fuzz/fuzz_util.hpp"

using namespace rapi;
using rapi::fuzz::as_text;
using rapi::fuzz::is_error_body;
using rapi::fuzz::is_json;
using rapi::fuzz::take_line;

namespace {

constexpr std::size_t max_requests = 16;
constexpr std::size_t max_body = 64 * 1024;

class fake_exchange final : public exchange {
public:
  int status = 0;
  std::string response;
  int answers = 0;

protected:
  void do_respond(int s, std::string body, header_list) override {
    ++answers;
    status = s;
    response = std::move(body);
  }
};

/// One fuzz input's world: fresh for every input, so runs are repeatable.
struct world {
  directory dir;
  memory_store store;
  timestamp clock = 1'764'497'730'000; // 2025-11-30T10:15:30Z
  std::uint64_t seq = 0;
  agent_settings settings;
  std::map<std::int64_t, std::unique_ptr<agent_state>> agents;
  limit_counters hits;
  std::unique_ptr<handlers> h;

  world() {
    settings.server_id = "fuzz";
    settings.max_blackout_ms = 600'000;
    settings.next_seq = [this] { return ++seq; };

    std::vector<agent_profile> demo(4);
    const char* phones[] = {"805001", "805003", "5003", "7000"};
    const char* users[] = {"asmith", "jdoe", "mlee", "rkhan"};
    for (int i = 0; i < 4; ++i) {
      auto& p = demo[i];
      p.id = i + 1;
      p.business_unit = 4593;
      p.phone = phones[i];
      p.username = users[i];
      p.crm_username = std::string(users[i]) + "@crm";
      p.system_username = std::string("CORP\\") + users[i];
      p.device_id = 11 + 6 * i;
      p.device_alias = "Desk " + std::to_string(11 + 6 * i);
    }
    auto r = dir.provision(demo, [this](const std::vector<agent_profile>& ps) {
      write_batch b;
      add_profiles(b, ps);
      return store.write(b).message;
    });
    FUZZ_CHECK(r.conflict.empty() && r.storage_error.empty(), r.conflict);

    handler_services s;
    s.dir = &dir;
    s.store = &store;
    s.server_id = "fuzz";
    s.max_bulk_agents = 64;
    s.now = [this] { return clock; };
    s.send = [this](const agent_entry_ptr& e, command cmd,
                    std::function<void(agent_error, std::string)> respond) {
      send(e, std::move(cmd), respond);
    };
    s.offload = [](std::function<void()> fn) { fn(); };
    s.admin_extra = [](route, const std::string&, const exchange_ptr& ex) {
      ex->respond(200, "{}");
    };
    s.provisioned = [](const std::vector<agent_entry_ptr>&) {};
    s.admin_token = "fuzz-admin-token";
    s.limit_hits = &hits;
    h = std::make_unique<handlers>(std::move(s));
  }

  /// What agent_actor_state::run does, minus the actor.
  void send(const agent_entry_ptr& e, command cmd,
            const std::function<void(agent_error, std::string)>& respond) {
    if (e->removed.load()) {
      respond({agent_errc::agent_not_found, "removed"}, {});
      return;
    }
    auto& st = agents[e->id()];
    if (!st) {
      st = std::make_unique<agent_state>(e->id(), settings);
      if (auto live = e->live())
        st->live = *live;
    }
    const bool removing = cmd.kind == command_kind::remove;
    auto backup = st->live;
    auto out = st->apply(cmd, clock);
    if (out.error) {
      st->live = std::move(backup);
      respond(std::move(out.error), {});
      return;
    }
    write_batch b;
    add_changes(b, e->id(), st->live, out);
    if (removing)
      add_removal(b, e->id());
    auto status = store.write(b);
    FUZZ_CHECK(status.ok(), status.message);
    e->set_live(std::make_shared<const agent_live>(st->live));
    if (removing)
      e->removed = true;
    respond({}, std::move(out.body));
  }
};

std::shared_ptr<fake_exchange> parse_request(std::string_view text) {
  auto ex = std::make_shared<fake_exchange>();
  auto line = take_line(text);
  auto sp = line.find(' ');
  ex->method = std::string(line.substr(0, sp));
  auto rest = sp == std::string_view::npos ? std::string_view{}
                                           : line.substr(sp + 1);
  auto target = rest.substr(0, rest.find(' ')); // drop " HTTP/1.1"
  auto q = target.find('?');
  ex->path = std::string(target.substr(0, q));
  if (q != std::string_view::npos)
    ex->query = std::string(target.substr(q + 1));
  while (!text.empty()) {
    auto h = take_line(text);
    if (h.empty())
      break;
    auto colon = h.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto name = h.substr(0, colon);
    auto value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    if (iequals(name, "Content-Type"))
      ex->content_type = std::string(value);
    else if (iequals(name, "Authorization"))
      ex->authorization = std::string(value);
    else if (iequals(name, "X-Api-Key"))
      ex->api_key = std::string(value);
  }
  if (text.size() > max_body)
    ex->body_too_large = true;
  else
    ex->body = std::string(text);
  return ex;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto requests = rapi::fuzz::split_on_line(as_text(data, size), "###",
                                            max_requests);
  world w;
  for (auto text : requests) {
    auto ex = parse_request(text);
    const bool utf8 = valid_utf8(ex->path) && valid_utf8(ex->query)
                      && valid_utf8(ex->body) && valid_utf8(ex->method);
    auto l = ex->path.size() >= 6 && iequals(ex->path.substr(0, 6), "/admin")
               ? listener::admin
               : listener::api;
    w.clock += 1000;
    w.h->dispatch(l, ex);

    const std::string what = ex->method + " " + ex->path.substr(0, 100)
                             + " -> " + std::to_string(ex->status) + " "
                             + ex->response.substr(0, 300);
    FUZZ_CHECK(ex->responded() && ex->answers == 1, what);
    const int s = ex->status;
    FUZZ_CHECK(s == 200 || s == 400 || s == 401 || s == 404 || s == 405
                 || s == 409 || s == 413,
               what);
    if (utf8) {
      if (s == 200)
        FUZZ_CHECK(is_json(ex->response), what);
      else
        FUZZ_CHECK(is_error_body(ex->response), what);
    }
  }
  return 0;
}
