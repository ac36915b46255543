#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actors/agent_state.hpp"
#include "cluster/cluster_node.hpp"
#include "http/params.hpp"
#include "http/server.hpp"

namespace rapi {

/// The effective configuration: defaults, then the config file, then flags.
/// Every key is documented in docs/configuration.md.
struct server_config {
  http_settings http;
  std::string server_id; ///< empty → "<host name>:<API port>"
  std::string data_dir = "data";
  bool storage_sync = false;
  std::int64_t storage_min_free_bytes = 128LL * 1024 * 1024;
  /// The write-behind journal's ring (storage/journal_store.hpp); 0: every
  /// write goes to RocksDB directly, as with storage.sync.
  std::int64_t storage_journal_mb = 64;
  /// How often the journal is folded into RocksDB.
  std::int64_t storage_journal_fold_ms = 250;
  std::string agents_file;
  std::int64_t max_agent_blackout_s = 600;
  /// 0: agent actors run on the HTTP threads (actors/io_scheduler.hpp).
  std::size_t actor_threads = 0;
  std::size_t max_bulk_agents = 1'000'000;
  param_limits limits;
  std::string time_zone = "UTC";
  cluster::settings cluster;
  std::string log_level = "info";
  std::string admin_token;
  std::vector<std::string> api_keys;
};

/// Builds the effective configuration: defaults, then `--config FILE`,
/// then `RECORDING_API__<SECTION>__<KEY>` environment variables, then
/// flags. Returns false with a message naming the key in `error`; sets
/// `help` for `--help`. `env` is the process environment (`environ`).
bool load_config(int argc, char** argv, char** env, server_config& cfg,
                 bool& help, std::string& error);

/// The effective configuration as JSON (the config file's shape), with
/// secrets (tokens, keys, passwords, URL credentials) replaced by "***".
std::string render_config(const server_config& cfg);

/// The `--help` text.
const char* usage();

} // namespace rapi
