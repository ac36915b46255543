#include <boost/test/unit_test.hpp>

#include "common/json_value.hpp"
#include "http/openapi.hpp"
#include "http/router.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// The OpenAPI document (docs/openapi.yaml, embedded and served at
// /api/openapi.json) against the router: every route the server serves is
// documented, and nothing is documented that the server does not serve.
// scripts/lint-openapi.sh (ctest openapi_lint) checks the document itself.

namespace {

using rapi::json_value;
using rapi::listener;

constexpr std::string_view methods[] = {"get",    "put",  "post",
                                        "delete", "patch", "head",
                                        "options", "trace"};

bool is_method(std::string_view key) {
  return std::find(std::begin(methods), std::end(methods), key)
         != std::end(methods);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return out;
}

/// Lower-cases a path and writes every `{param}` as `{}`: the router names
/// its parameters `{id}` / `{AgentID}` and matches paths case-insensitively.
std::string normalise_path(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      auto close = path.find('}', i);
      if (close != std::string_view::npos) {
        out += "{}";
        i = close;
        continue;
      }
    }
    out.push_back(path[i]);
  }
  return rapi::to_lower(out);
}

/// "GET /api/Recordings/{id}" → "GET /api/recordings/{}".
std::string normalise_route(std::string_view route) {
  auto space = route.find(' ');
  return upper(route.substr(0, space)) + " "
         + normalise_path(route.substr(space + 1));
}

json_value parse_document() {
  json_value doc;
  rapi::json_parse_error err;
  BOOST_REQUIRE_MESSAGE(rapi::parse_json(rapi::openapi_json(), doc, err),
                        "docs/openapi.yaml is not JSON (it must be written in "
                        "YAML's JSON form): "
                          << err.message << " at byte " << err.offset);
  BOOST_REQUIRE(doc.is_object());
  return doc;
}

/// Follows a local `$ref` ("#/components/responses/NotFound"), if any.
const json_value& deref(const json_value& doc, const json_value& v) {
  const json_value* ref = v.is_object() ? v.find("$ref") : nullptr;
  if (ref == nullptr || !ref->is_string())
    return v;
  BOOST_REQUIRE_MESSAGE(ref->text.rfind("#/", 0) == 0,
                        "only local references: " << ref->text);
  const json_value* at = &doc;
  std::string_view rest = std::string_view(ref->text).substr(2);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string part(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{}
                                           : rest.substr(slash + 1);
    for (std::size_t p; (p = part.find("~1")) != std::string::npos;)
      part.replace(p, 2, "/");
    for (std::size_t p; (p = part.find("~0")) != std::string::npos;)
      part.replace(p, 2, "~");
    at = at->find(part);
    BOOST_REQUIRE_MESSAGE(at != nullptr, "dangling reference " << ref->text);
  }
  return *at;
}

struct operation {
  std::string key;  ///< normalised "METHOD /path"
  std::string name; ///< as written, "POST /api/Record/StartForAgent"
  std::string path; ///< as written
  const json_value* path_item;
  const json_value* op;
};

std::vector<operation> operations_of(const json_value& doc) {
  std::vector<operation> out;
  auto* paths = doc.find("paths");
  BOOST_REQUIRE(paths != nullptr && paths->is_object());
  for (auto& [path, item] : paths->members) {
    BOOST_REQUIRE_MESSAGE(item.is_object(), path << " is not a path item");
    for (auto& [method, op] : item.members) {
      if (!is_method(method))
        continue;
      auto name = upper(method) + " " + path;
      out.push_back({normalise_route(name), name, path, &item, &op});
    }
  }
  return out;
}

/// Every (METHOD, path) either listener serves, normalised.
std::set<std::string> served_routes() {
  std::set<std::string> out;
  for (auto l : {listener::api, listener::admin})
    for (auto& r : rapi::route_list(l))
      out.insert(normalise_route(r));
  return out;
}

std::set<std::string> routes_of(listener l) {
  std::set<std::string> out;
  for (auto& r : rapi::route_list(l))
    out.insert(normalise_route(r));
  return out;
}

/// The commands of the vendor document (seed-recording-api.txt).
constexpr std::string_view vendor_commands[] = {
  "GET /api/Agent",
  "GET /api/Agent/GetAll",
  "POST /api/Blackout/StartForAgent",
  "POST /api/Blackout/StopForAgent",
  "POST /api/Record/StartForAgent",
  "POST /api/Record/StopForAgent",
  "POST /api/Record/UpdateForAgent",
  "POST /api/Record/StartDuplicateForAgent",
  "POST /api/Record/StopDuplicateForAgent",
  "POST /api/ScreenRecord/StartForAgent",
  "POST /api/ScreenRecord/UpdateForAgent",
  "POST /api/ScreenRecord/StopForAgent",
};

const operation* find_op(const std::vector<operation>& ops,
                         std::string_view name) {
  auto key = normalise_route(name);
  for (auto& o : ops)
    if (o.key == key)
      return &o;
  return nullptr;
}

/// The port of every `servers` URL of a path item (the document's own
/// servers when the path item has none).
std::set<std::string> server_ports(const json_value& doc,
                                   const json_value& item) {
  auto* servers = item.find("servers");
  if (servers == nullptr)
    servers = doc.find("servers");
  std::set<std::string> out;
  if (servers == nullptr || !servers->is_array())
    return out;
  for (auto& s : servers->items) {
    auto* url = s.find("url");
    if (url == nullptr || !url->is_string())
      continue;
    auto colon = url->text.rfind(':');
    out.insert(colon == std::string::npos ? "" : url->text.substr(colon + 1));
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(openapi)

BOOST_AUTO_TEST_CASE(document_is_openapi_3_in_json_form) {
  auto doc = parse_document();
  auto* version = doc.find("openapi");
  BOOST_REQUIRE(version != nullptr && version->is_string());
  BOOST_TEST(version->text.rfind("3.", 0) == 0u, version->text);
  auto* info = doc.find("info");
  BOOST_REQUIRE(info != nullptr && info->is_object());
  BOOST_TEST(info->find("title") != nullptr);
  BOOST_TEST(info->find("version") != nullptr);
  // The API listener is the default server, the admin listener the second.
  auto* servers = doc.find("servers");
  BOOST_REQUIRE(servers != nullptr && servers->is_array());
  BOOST_REQUIRE(servers->items.size() == 2u);
  BOOST_TEST(servers->items[0].find("url")->text == "http://localhost:8080");
  BOOST_TEST(servers->items[1].find("url")->text == "http://127.0.0.1:8081");
}

BOOST_AUTO_TEST_CASE(every_served_route_is_documented) {
  auto doc = parse_document();
  std::set<std::string> documented;
  for (auto& o : operations_of(doc))
    documented.insert(o.key);
  for (auto l : {listener::api, listener::admin})
    for (auto& r : rapi::route_list(l))
      BOOST_TEST(documented.count(normalise_route(r)) == 1u,
                 r << " is served but not in docs/openapi.yaml");
}

BOOST_AUTO_TEST_CASE(every_documented_operation_is_served) {
  auto doc = parse_document();
  auto served = served_routes();
  std::set<std::string> seen;
  for (auto& o : operations_of(doc)) {
    BOOST_TEST(served.count(o.key) == 1u,
               o.name << " is in docs/openapi.yaml but no listener serves it");
    // Paths are case-insensitive: two spellings of one route would be one
    // operation documented twice.
    BOOST_TEST(seen.insert(o.key).second, o.name << " is documented twice");
  }
}

BOOST_AUTO_TEST_CASE(paths_name_their_listener) {
  auto doc = parse_document();
  auto api = routes_of(listener::api);
  auto admin = routes_of(listener::admin);
  for (auto& o : operations_of(doc)) {
    BOOST_TEST_CONTEXT(o.name) {
      auto ports = server_ports(doc, *o.path_item);
      bool on_api = api.count(o.key) == 1;
      bool on_admin = admin.count(o.key) == 1;
      BOOST_TEST(ports.count("8080") == (on_api ? 1u : 0u));
      BOOST_TEST(ports.count("8081") == (on_admin ? 1u : 0u));
      if (on_admin && !on_api) {
        auto* tags = o.op->find("tags");
        BOOST_REQUIRE(tags != nullptr && tags->is_array());
        BOOST_TEST(std::any_of(tags->items.begin(), tags->items.end(),
                               [](const json_value& t) {
                                 return t.text == "admin";
                               }),
                   "admin routes are tagged admin");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_operation_succeeds_and_fails_with_the_error_shape) {
  auto doc = parse_document();
  for (auto& o : operations_of(doc)) {
    BOOST_TEST_CONTEXT(o.name) {
      auto* id = o.op->find("operationId");
      BOOST_TEST((id != nullptr && id->is_string() && !id->text.empty()));
      auto* responses = o.op->find("responses");
      BOOST_REQUIRE(responses != nullptr && responses->is_object());
      bool success = false;
      for (auto& [status, resp] : responses->members) {
        if (!status.empty() && status[0] == '2') {
          success = true;
          continue;
        }
        if (status.empty() || (status[0] != '4' && status[0] != '5'))
          continue;
        BOOST_TEST_CONTEXT("response " << status) {
          auto& r = deref(doc, resp);
          auto* content = r.find("content");
          BOOST_REQUIRE(content != nullptr);
          auto* json = content->find("application/json");
          BOOST_REQUIRE(json != nullptr);
          auto* schema = json->find("schema");
          BOOST_REQUIRE(schema != nullptr);
          auto* ref = schema->find("$ref");
          BOOST_TEST((ref != nullptr
                      && ref->text == "#/components/schemas/Error"));
        }
      }
      BOOST_TEST(success, "no 2xx response");
    }
  }
}

BOOST_AUTO_TEST_CASE(error_codes_are_the_servers) {
  auto doc = parse_document();
  auto* components = doc.find("components");
  BOOST_REQUIRE(components != nullptr);
  auto* schemas = components->find("schemas");
  BOOST_REQUIRE(schemas != nullptr);
  auto* codes = schemas->find("ErrorCode");
  BOOST_REQUIRE(codes != nullptr);
  auto* values = codes->find("enum");
  BOOST_REQUIRE(values != nullptr && values->is_array());
  std::set<std::string> documented;
  for (auto& v : values->items)
    documented.insert(v.text);
  // docs/behaviour.md's list, plus 401 for the optional keys and token.
  for (auto code :
       {"MissingParameter", "AgentNotFound", "NotInCall", "CallNotFound",
        "NotRecording", "RecordingNotFound", "RouteNotFound", "InvalidJson",
        "InvalidParameter", "InvalidAgentIdentifier", "InvalidMetadata",
        "InvalidTime", "MethodNotAllowed", "Conflict", "PayloadTooLarge",
        "StorageFailure", "InternalError", "Starting", "ShuttingDown",
        "Unauthorized", "BadRequest", "TooManyConnections"})
    BOOST_TEST(documented.count(code) == 1u, code);
}

BOOST_AUTO_TEST_CASE(secured_operations_document_401) {
  auto doc = parse_document();
  for (auto& o : operations_of(doc)) {
    BOOST_TEST_CONTEXT(o.name) {
      auto* security = o.op->find("security");
      if (security == nullptr)
        security = doc.find("security");
      BOOST_REQUIRE(security != nullptr && security->is_array());
      // Health and ready never want credentials: an empty requirement list.
      bool open = o.key == "GET /admin/health" || o.key == "GET /admin/ready";
      BOOST_TEST(security->items.empty() == open);
      BOOST_TEST(
        (o.op->find("responses")->find("401") != nullptr) == !open);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_vendor_command_has_its_example) {
  auto doc = parse_document();
  auto ops = operations_of(doc);
  for (auto name : vendor_commands) {
    BOOST_TEST_CONTEXT(name) {
      auto* o = find_op(ops, name);
      BOOST_REQUIRE_MESSAGE(o != nullptr, "not documented");
      // The vendor's path spelling (the router's names use it too).
      BOOST_TEST(o->name == std::string(name));
      // The seed's example, verbatim.
      auto* vendor = o->op->find("x-vendor-example");
      BOOST_REQUIRE(vendor != nullptr && vendor->is_array());
      BOOST_REQUIRE(!vendor->items.empty());
      for (auto& ex : vendor->items) {
        auto* url = ex.find("url");
        BOOST_REQUIRE(url != nullptr);
        auto path = std::string(name).substr(std::string(name).find(' ') + 1);
        BOOST_TEST(rapi::to_lower(url->text).rfind(
                     rapi::to_lower("http://[RecordingApiServerAddress]" + path),
                     0)
                   == 0u);
      }
      if (o->name.rfind("POST ", 0) != 0)
        continue;
      // POST commands: the seed's bodies as request examples.
      auto* body = o->op->find("requestBody");
      BOOST_REQUIRE(body != nullptr);
      auto* json = body->find("content")->find("application/json");
      BOOST_REQUIRE(json != nullptr);
      auto* examples = json->find("examples");
      BOOST_REQUIRE(examples != nullptr && examples->is_object());
      BOOST_TEST(examples->members.size() >= vendor->items.size());
      for (auto& ex : vendor->items)
        BOOST_TEST((ex.find("body") != nullptr && !ex.find("body")->text.empty()));
      for (auto& [key, ex] : examples->members) {
        auto* value = ex.find("value");
        BOOST_REQUIRE_MESSAGE(value != nullptr && value->is_object(), key);
        BOOST_TEST(value->find("AgentIdentifier") != nullptr, key);
        BOOST_TEST(value->find("Value") != nullptr, key);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
