#include "app/config.hpp"

#include <fstream>
#include <sstream>

#include "common/json_value.hpp"
#include "common/log.hpp"

namespace rapi {

const char* usage() {
  return "usage: recording-api [options]\n"
         "\n"
         "  --config FILE      JSON configuration (docs/configuration.md)\n"
         "  --port N           API port (default 8080; 0 = pick a free one)\n"
         "  --admin-port N     admin port on 127.0.0.1 (default 8081; 0 = "
         "free)\n"
         "  --bind ADDR        API listen address (default 0.0.0.0)\n"
         "  --data-dir DIR     RocksDB folder (default ./data)\n"
         "  --agents FILE      agents to provision at start (JSON array)\n"
         "  --help             this text\n"
         "\n"
         "On start one line per listener gives its real address and port.\n"
         "SIGINT/SIGTERM stop it cleanly.\n";
}

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string dir_of(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? "." : path.substr(0, pos);
}

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/' || base == ".")
    return p;
  return base + "/" + p;
}

/// Reads typed values out of a config object, naming the key at fault.
struct reader {
  std::string& error;

  bool integer(const json_value& v, const std::string& key, std::int64_t lo,
               std::int64_t hi, std::int64_t& out) {
    auto n = v.is_number() ? parse_signed_int(v.text) : std::nullopt;
    if (!n || *n < lo || *n > hi) {
      error = "configuration key '" + key + "' must be an integer from "
              + std::to_string(lo) + " to " + std::to_string(hi);
      return false;
    }
    out = *n;
    return true;
  }
  template <class T>
  bool integer(const json_value& v, const std::string& key, std::int64_t lo,
               std::int64_t hi, T& out) {
    std::int64_t n = 0;
    if (!integer(v, key, lo, hi, n))
      return false;
    out = static_cast<T>(n);
    return true;
  }
  bool text(const json_value& v, const std::string& key, std::string& out) {
    if (!v.is_string() && !v.is_number()) {
      error = "configuration key '" + key + "' must be a string";
      return false;
    }
    out = v.text;
    return true;
  }
  bool boolean(const json_value& v, const std::string& key, bool& out) {
    if (v.type != json_value::kind::boolean) {
      error = "configuration key '" + key + "' must be true or false";
      return false;
    }
    out = v.boolean;
    return true;
  }
  /// An array of strings; a single string counts as a one-element array
  /// (handy in environment variables).
  bool strings(const json_value& v, const std::string& key,
               std::vector<std::string>& out) {
    out.clear();
    if (v.is_string()) {
      out.push_back(v.text);
      return true;
    }
    if (!v.is_array()) {
      error = "configuration key '" + key + "' must be an array of strings";
      return false;
    }
    for (auto& x : v.items) {
      if (!x.is_string()) {
        error = "configuration key '" + key + "' must be an array of strings";
        return false;
      }
      out.push_back(x.text);
    }
    return true;
  }
  bool unknown(const std::string& key) {
    error = "unknown configuration key '" + key + "'";
    return false;
  }
  bool object(const json_value& v, const std::string& key) {
    if (!v.is_object()) {
      error = "configuration key '" + key + "' must be an object";
      return false;
    }
    return true;
  }
};

bool apply_file(const json_value& root, const std::string& base,
                server_config& cfg, std::string& error) {
  reader r{error};
  if (!r.object(root, "(root)"))
    return false;
  for (auto& [section, v] : root.members) {
    if (section == "agents_file") {
      if (!r.text(v, section, cfg.agents_file))
        return false;
      cfg.agents_file = resolve(base, cfg.agents_file);
      continue;
    }
    if (!r.object(v, section))
      return false;
    for (auto& [name, val] : v.members) {
      auto key = section + "." + name;
      bool ok = true;
      if (section == "server") {
        if (name == "id")
          ok = r.text(val, key, cfg.server_id);
        else if (name == "bind")
          ok = r.text(val, key, cfg.http.bind);
        else if (name == "port")
          ok = r.integer(val, key, 0, 65535, cfg.http.port);
        else if (name == "threads")
          ok = r.integer(val, key, 1, 64, cfg.http.threads);
        else if (name == "pin_threads")
          ok = r.boolean(val, key, cfg.http.pin_threads);
        else if (name == "query_threads")
          ok = r.integer(val, key, 1, 64, cfg.http.query_threads);
        else if (name == "actor_threads")
          ok = r.integer(val, key, 0, 64, cfg.actor_threads);
        else if (name == "time_zone")
          ok = r.text(val, key, cfg.time_zone);
        else
          ok = r.unknown(key);
      } else if (section == "admin") {
        if (name == "bind")
          ok = r.text(val, key, cfg.http.admin_bind);
        else if (name == "token")
          ok = r.text(val, key, cfg.admin_token);
        else if (name == "port")
          ok = r.integer(val, key, 0, 65535, cfg.http.admin_port);
        else
          ok = r.unknown(key);
      } else if (section == "storage") {
        if (name == "data_dir") {
          ok = r.text(val, key, cfg.data_dir);
          cfg.data_dir = resolve(base, cfg.data_dir);
        } else if (name == "sync") {
          ok = r.boolean(val, key, cfg.storage_sync);
        } else if (name == "min_free_bytes") {
          ok = r.integer(val, key, 0, 1LL << 50, cfg.storage_min_free_bytes);
        } else if (name == "journal_mb") {
          ok = r.integer(val, key, 0, 4096, cfg.storage_journal_mb);
        } else if (name == "journal_fold_ms") {
          ok = r.integer(val, key, 1, 60'000, cfg.storage_journal_fold_ms);
        } else {
          ok = r.unknown(key);
        }
      } else if (section == "blackout") {
        if (name == "maxagentblackout")
          ok = r.integer(val, key, 0, 31'536'000, cfg.max_agent_blackout_s);
        else
          ok = r.unknown(key);
      } else if (section == "limits") {
        if (name == "max_body_bytes")
          ok = r.integer(val, key, 1024, 1 << 30, cfg.http.max_body_bytes);
        else if (name == "admin_max_body_bytes")
          ok = r.integer(val, key, 1024, 1LL << 32,
                         cfg.http.admin_max_body_bytes);
        else if (name == "max_bulk_agents")
          ok = r.integer(val, key, 1, 10'000'000, cfg.max_bulk_agents);
        else if (name == "max_connections")
          ok = r.integer(val, key, 1, 1'000'000, cfg.http.max_connections);
        else if (name == "read_timeout_ms") {
          std::int64_t ms = 0;
          ok = r.integer(val, key, 100, 3'600'000, ms);
          cfg.http.read_timeout = std::chrono::milliseconds(ms);
        } else if (name == "max_url_bytes")
          ok = r.integer(val, key, 256, 1 << 20, cfg.http.max_url_bytes);
        else if (name == "max_header_bytes")
          ok = r.integer(val, key, 256, 1 << 20, cfg.http.max_header_bytes);
        else if (name == "max_header_count")
          ok = r.integer(val, key, 8, 10'000, cfg.http.max_header_count);
        else if (name == "metadata_max_keys")
          ok = r.integer(val, key, 1, 4096, cfg.limits.max_metadata_keys);
        else if (name == "metadata_key_bytes")
          ok = r.integer(val, key, 1, 4096, cfg.limits.max_metadata_key_bytes);
        else if (name == "metadata_value_bytes")
          ok = r.integer(val, key, 1, 1 << 20,
                         cfg.limits.max_metadata_value_bytes);
        else
          ok = r.unknown(key);
      } else if (section == "cluster") {
        auto& c = cfg.cluster;
        if (name == "enabled") {
          ok = r.boolean(val, key, c.enabled);
        } else if (name == "server_id") {
          ok = r.text(val, key, c.server_id);
        } else if (name == "brokers") {
          if (!r.strings(val, key, c.brokers))
            return false;
          if (c.brokers.empty()) {
            error = "configuration key '" + key
                    + "' must name at least one AMQP URL";
            return false;
          }
          for (auto& url : c.brokers)
            if (url.rfind("amqp://", 0) != 0 && url.rfind("amqps://", 0) != 0) {
              error = "configuration key '" + key + "': '" + url
                      + "' is not an amqp:// or amqps:// URL";
              return false;
            }
        } else if (name == "exchange") {
          ok = r.text(val, key, c.exchange);
        } else if (name == "username") {
          ok = r.text(val, key, c.username);
        } else if (name == "password") {
          ok = r.text(val, key, c.password);
        } else if (name == "vhost") {
          ok = r.text(val, key, c.vhost);
        } else if (name == "tls") {
          ok = r.boolean(val, key, c.tls);
        } else if (name == "tls_ca") {
          ok = r.text(val, key, c.tls_ca);
        } else if (name == "heartbeat_s") {
          ok = r.integer(val, key, 0, 3600, c.heartbeat_s);
        } else {
          ok = r.unknown(key);
        }
      } else if (section == "log") {
        if (name == "level") {
          ok = r.text(val, key, cfg.log_level);
          if (ok && !parse_log_level(cfg.log_level)) {
            error = "configuration key '" + key
                    + "' must be debug, info, warn, error or off";
            return false;
          }
        } else {
          ok = r.unknown(key);
        }
      } else if (section == "api") {
        if (name == "keys") {
          if (!r.strings(val, key, cfg.api_keys))
            return false;
          for (auto& k : cfg.api_keys)
            if (k.size() < 16) {
              error = "configuration key '" + key
                      + "': every key must be at least 16 characters";
              return false;
            }
        } else {
          ok = r.unknown(key);
        }
      } else if (section == "metadata") {
        if (name == "fields") {
          if (!r.strings(val, key, cfg.limits.metadata_fields))
            return false;
        } else {
          ok = r.unknown(key);
        }
      } else {
        return r.unknown(section);
      }
      if (!ok)
        return false;
    }
  }
  return true;
}

} // namespace

namespace {

constexpr std::string_view env_prefix = "RECORDING_API__";

/// Turns `RECORDING_API__<SECTION>__<KEY>=value` variables into a config
/// object. A value that parses as JSON (number, true/false, array) is
/// taken as such, anything else as a string.
bool env_overrides(char** env, json_value& root, std::string& error) {
  root = json_value{};
  root.type = json_value::kind::object;
  for (char** e = env; e != nullptr && *e != nullptr; ++e) {
    std::string_view var{*e};
    if (var.substr(0, env_prefix.size()) != env_prefix)
      continue;
    auto eq = var.find('=');
    auto name = to_lower(var.substr(env_prefix.size(), eq - env_prefix.size()));
    std::string raw(eq == std::string_view::npos ? std::string_view{}
                                                 : var.substr(eq + 1));
    json_value value;
    json_parse_error perr;
    if (!parse_json(raw, value, perr) || value.is_object()) {
      value = json_value{};
      value.type = json_value::kind::string;
      value.text = raw;
    }
    auto sep = name.find("__");
    if (sep == std::string::npos) {
      if (name != "agents_file") {
        error = "environment variable " + std::string(var.substr(0, eq))
                + " names no configuration key (use "
                  "RECORDING_API__<SECTION>__<KEY>)";
        return false;
      }
      root.members.emplace_back(name, std::move(value));
      continue;
    }
    auto section = name.substr(0, sep);
    auto key = name.substr(sep + 2);
    json_value* sec = nullptr;
    for (auto& [k, v] : root.members)
      if (k == section)
        sec = &v;
    if (sec == nullptr) {
      json_value obj;
      obj.type = json_value::kind::object;
      root.members.emplace_back(section, std::move(obj));
      sec = &root.members.back().second;
    }
    sec->members.emplace_back(key, std::move(value));
  }
  return true;
}

} // namespace

bool load_config(int argc, char** argv, char** env, server_config& cfg,
                 bool& help, std::string& error) {
  help = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  // --config first, so that flags override the file wherever they stand.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      help = true;
      return true;
    }
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) {
        error = "--config needs a file name";
        return false;
      }
      const auto& path = args[i + 1];
      std::string text;
      if (!read_file(path, text)) {
        error = "cannot read the configuration file '" + path + "'";
        return false;
      }
      json_value root;
      json_parse_error perr;
      if (!parse_json(text, root, perr)) {
        error = "the configuration file '" + path
                + "' is not valid JSON: " + perr.message;
        return false;
      }
      if (!apply_file(root, dir_of(path), cfg, error)) {
        error = path + ": " + error;
        return false;
      }
    }
  }
  {
    json_value root;
    if (!env_overrides(env, root, error))
      return false;
    if (!root.members.empty() && !apply_file(root, ".", cfg, error)) {
      error = "environment: " + error;
      return false;
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) {
        error = a + " needs a value";
        return false;
      }
      out = args[++i];
      return true;
    };
    auto port = [&](std::uint16_t& out) {
      std::string v;
      if (!value(v))
        return false;
      auto n = parse_int(v);
      if (!n || *n > 65535) {
        error = a + " must be a port number from 0 to 65535, not '" + v + "'";
        return false;
      }
      out = static_cast<std::uint16_t>(*n);
      return true;
    };
    std::string ignored;
    bool ok;
    if (a == "--config")
      ok = value(ignored);
    else if (a == "--port")
      ok = port(cfg.http.port);
    else if (a == "--admin-port")
      ok = port(cfg.http.admin_port);
    else if (a == "--bind")
      ok = value(cfg.http.bind);
    else if (a == "--data-dir")
      ok = value(cfg.data_dir);
    else if (a == "--agents")
      ok = value(cfg.agents_file);
    else {
      error = "unknown option '" + a + "' (see --help)";
      return false;
    }
    if (!ok)
      return false;
  }
  auto zone = time_zone::parse(cfg.time_zone);
  if (!zone) {
    error = "configuration key 'server.time_zone': '" + cfg.time_zone
            + "' is not UTC, a fixed offset or a known IANA zone";
    return false;
  }
  cfg.limits.zone = *zone;
  return true;
}

namespace {

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme)
    return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at)
    return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

void str_member(std::string& out, const char* key, const std::string& v,
                bool last = false) {
  append_json_string(out, key);
  out.push_back(':');
  append_json_string(out, v);
  if (!last)
    out.push_back(',');
}

void num_member(std::string& out, const char* key, std::int64_t v,
                bool last = false) {
  append_json_string(out, key);
  out += ":" + std::to_string(v);
  if (!last)
    out.push_back(',');
}

void bool_member(std::string& out, const char* key, bool v,
                 bool last = false) {
  append_json_string(out, key);
  out += v ? ":true" : ":false";
  if (!last)
    out.push_back(',');
}

void list_member(std::string& out, const char* key,
                 const std::vector<std::string>& items, bool secret,
                 bool last = false) {
  append_json_string(out, key);
  out += ":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    append_json_string(out, secret ? std::string("***") : items[i]);
  }
  out.push_back(']');
  if (!last)
    out.push_back(',');
}

std::string secret(const std::string& s) {
  return s.empty() ? "" : "***";
}

} // namespace

std::string render_config(const server_config& c) {
  std::string out = "{\"server\":{";
  str_member(out, "id", c.server_id);
  str_member(out, "bind", c.http.bind);
  num_member(out, "port", c.http.port);
  num_member(out, "threads", static_cast<std::int64_t>(c.http.threads));
  bool_member(out, "pin_threads", c.http.pin_threads);
  num_member(out, "query_threads",
             static_cast<std::int64_t>(c.http.query_threads));
  num_member(out, "actor_threads", static_cast<std::int64_t>(c.actor_threads));
  str_member(out, "time_zone", c.time_zone, true);
  out += "},\"admin\":{";
  str_member(out, "bind", c.http.admin_bind);
  num_member(out, "port", c.http.admin_port);
  str_member(out, "token", secret(c.admin_token), true);
  out += "},\"api\":{";
  list_member(out, "keys", c.api_keys, true, true);
  out += "},\"storage\":{";
  str_member(out, "data_dir", c.data_dir);
  bool_member(out, "sync", c.storage_sync);
  num_member(out, "min_free_bytes", c.storage_min_free_bytes);
  num_member(out, "journal_mb", c.storage_journal_mb);
  num_member(out, "journal_fold_ms", c.storage_journal_fold_ms, true);
  out += "},";
  str_member(out, "agents_file", c.agents_file);
  out += "\"blackout\":{";
  num_member(out, "maxagentblackout", c.max_agent_blackout_s, true);
  out += "},\"limits\":{";
  num_member(out, "max_body_bytes",
             static_cast<std::int64_t>(c.http.max_body_bytes));
  num_member(out, "admin_max_body_bytes",
             static_cast<std::int64_t>(c.http.admin_max_body_bytes));
  num_member(out, "max_bulk_agents",
             static_cast<std::int64_t>(c.max_bulk_agents));
  num_member(out, "max_connections",
             static_cast<std::int64_t>(c.http.max_connections));
  num_member(out, "read_timeout_ms",
             static_cast<std::int64_t>(c.http.read_timeout.count()));
  num_member(out, "max_url_bytes",
             static_cast<std::int64_t>(c.http.max_url_bytes));
  num_member(out, "max_header_bytes",
             static_cast<std::int64_t>(c.http.max_header_bytes));
  num_member(out, "max_header_count",
             static_cast<std::int64_t>(c.http.max_header_count));
  num_member(out, "metadata_max_keys",
             static_cast<std::int64_t>(c.limits.max_metadata_keys));
  num_member(out, "metadata_key_bytes",
             static_cast<std::int64_t>(c.limits.max_metadata_key_bytes));
  num_member(out, "metadata_value_bytes",
             static_cast<std::int64_t>(c.limits.max_metadata_value_bytes),
             true);
  out += "},\"metadata\":{";
  list_member(out, "fields", c.limits.metadata_fields, false, true);
  out += "},\"log\":{";
  str_member(out, "level", c.log_level, true);
  out += "},\"cluster\":{";
  bool_member(out, "enabled", c.cluster.enabled);
  str_member(out, "server_id", c.cluster.server_id);
  std::vector<std::string> brokers;
  for (auto& b : c.cluster.brokers)
    brokers.push_back(redact_url(b));
  list_member(out, "brokers", brokers, false);
  str_member(out, "exchange", c.cluster.exchange);
  str_member(out, "username", c.cluster.username);
  str_member(out, "password", secret(c.cluster.password));
  str_member(out, "vhost", c.cluster.vhost);
  bool_member(out, "tls", c.cluster.tls);
  str_member(out, "tls_ca", c.cluster.tls_ca);
  num_member(out, "heartbeat_s", c.cluster.heartbeat_s, true);
  out += "}}";
  return out;
}

} // namespace rapi
