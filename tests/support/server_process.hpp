#pragma once

/// \file
/// Starts and stops the real `recording-api` binary for integration tests.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "tests/support/http_client.hpp"

namespace rapi::test {

/// Environment variables as name/value pairs.
using env_list = std::vector<std::pair<std::string, std::string>>;

/// How to run the server. Set fields by name
/// (`server_options o; o.extra_args = {"--x"};`): brace-initialising only a
/// prefix of the fields trips -Wmissing-field-initializers under -Wextra.
struct server_options {
  /// Appended to the command line, after the default arguments.
  std::vector<std::string> extra_args;
  /// Data directory; empty -> a fresh temp dir, removed by the destructor
  /// unless `keep_data`. A given directory is never removed.
  std::string data_dir;
  /// Keep an owned temp data dir after destruction (for post-mortems).
  bool keep_data = false;
  /// Extra environment, set on top of (overriding) the test's environment.
  env_list env;
  /// Pass `--port 0 --admin-port 0 --data-dir <dir>` before `extra_args`.
  /// When false only `extra_args` are passed; the server must still print
  /// both "listening on" lines (e.g. with ports from a config file).
  bool default_args = true;
  /// The binary to run; empty -> `binary_path()`.
  std::string binary;
  /// How long `start()` waits for both "listening on" lines.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
};

/// One running server, started via fork/exec with stdout and stderr
/// captured (drained continuously by a background thread, so the child
/// never blocks on a full pipe). The child's stdin is /dev/null, its signal
/// mask and ignored signals are reset, and it gets SIGKILL when the thread
/// that started it exits (PR_SET_PDEATHSIG), so a crashed test leaves no
/// server behind: start servers from a thread that outlives them.
///
/// Set RAPI_TEST_ECHO=1 in the environment to also copy the server's output
/// to the test's stderr as it arrives.
///
/// Methods other than `output()` and `wait_for_output()` are not
/// thread-safe.
class server_process {
public:
  /// Starts the server immediately and waits until it listens; throws
  /// std::runtime_error (with the captured output) if it exits first or
  /// does not get there within `opts.start_timeout`.
  explicit server_process(server_options opts = {});

  /// SIGKILLs the server if still running, reaps it, and removes the data
  /// dir if this object created it (and `keep_data` is false).
  ~server_process();

  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// Ports parsed from the "listening on" lines of the current run; they
  /// change on every `start()`.
  std::uint16_t api_port() const { return api_port_; }
  std::uint16_t admin_port() const { return admin_port_; }

  const std::string& data_dir() const { return data_dir_; }

  /// A fresh client on 127.0.0.1:api_port().
  http_client api() const;
  /// A fresh client on 127.0.0.1:admin_port().
  http_client admin() const;

  /// Sends `sig` (unless the server already exited; 0 sends nothing and
  /// just waits) and waits until it exits. Returns its exit code, or
  /// 128 + signal number if a signal killed it. Throws std::runtime_error
  /// if it is still running after `deadline` (it is left running; the
  /// destructor or `kill9()` will kill it).
  int stop(int sig = SIGTERM,
           std::chrono::milliseconds deadline = std::chrono::seconds(20));

  /// SIGKILL and wait; a no-op if it already exited.
  void kill9();

  /// (Re)starts with the same options and data dir, as the constructor
  /// does. Throws std::logic_error if the server is still running.
  void start();

  /// True while the server process has not exited.
  bool running() const;

  /// Exit code of the last run (as `stop` reports it) once it has exited.
  std::optional<int> exit_code() const;

  /// Process id of the current (or last) run.
  pid_t pid() const { return pid_; }

  /// Everything the current run printed so far (stdout and stderr
  /// interleaved); reset by `start()`, kept after the process exits.
  std::string output() const;

  /// Waits until the current run's output contains `needle`; returns
  /// whether it did within `deadline`.
  bool wait_for_output(std::string_view needle,
                       std::chrono::milliseconds deadline = std::chrono::seconds(5)) const;

  /// The full command line of the current run (argv[0] first).
  const std::vector<std::string>& command_line() const { return argv_; }

private:
  bool reap(bool block) const;
  void finish_reader();
  void reader_loop(int fd);
  void cleanup() noexcept;
  [[noreturn]] void fail_start(const std::string& why);

  server_options opts_;
  std::string data_dir_;
  bool owns_dir_ = false;
  std::vector<std::string> argv_;

  mutable pid_t pid_ = -1;
  mutable std::optional<int> exit_code_;
  std::uint16_t api_port_ = 0;
  std::uint16_t admin_port_ = 0;

  int out_fd_ = -1;
  std::thread reader_;
  std::atomic<bool> reader_stop_{false};
  bool echo_ = false;
  mutable std::mutex out_mutex_;
  mutable std::condition_variable out_cv_;
  std::string out_;
  bool out_eof_ = false;
};

/// Result of `run_binary`.
struct run_result {
  int exit_code = 0; ///< as `server_process::stop` reports it
  std::string output; ///< stdout and stderr interleaved
};

/// Runs `binary_path()` with exactly `args` (for command-line tests such
/// as `--help` or bad options), waits for it to exit and returns its exit
/// code and output. Throws std::runtime_error if it cannot be started or
/// has not exited within `deadline` (it is then killed).
run_result run_binary(const std::vector<std::string>& args, const env_list& env = {},
                      std::chrono::milliseconds deadline = std::chrono::seconds(30));

/// The server binary: env RECORDING_API_BINARY if set and non-empty, else
/// the compile definition RAPI_SERVER_BINARY (from any translation unit
/// including this header, see below, or from this library's own build),
/// else "recording-api" looked up on PATH.
std::string binary_path();

/// Sets the fallback `binary_path()` returns when RECORDING_API_BINARY is
/// unset. Called automatically for RAPI_SERVER_BINARY, see below.
void set_default_binary(std::string path);

namespace detail {
#ifdef RAPI_SERVER_BINARY
/// Whether RAPI_SERVER_BINARY is defined on the test targets or on
/// rapi_test_support itself, `binary_path()` sees it: a test translation
/// unit compiled with it registers it before main() runs.
struct default_binary_registrar {
  default_binary_registrar() { set_default_binary(RAPI_SERVER_BINARY); }
};
static const default_binary_registrar default_binary_registrar_instance;
#endif
} // namespace detail

/// Creates a fresh directory `$TMPDIR/<prefix>-XXXXXX` (TMPDIR defaults to
/// /tmp) and returns its path; throws std::runtime_error on failure.
std::string make_temp_dir(std::string_view prefix = "rapi-test");

/// Removes `path` recursively; errors are ignored, as are "" and "/".
void remove_dir(const std::string& path);

/// Polls `cond` every 5 ms until it is true or `deadline` passes; returns
/// the last result. `cond` runs at least once, and once more at or after
/// the deadline. (Tests use this instead of sleeps.)
bool poll_until(const std::function<bool()>& cond,
                std::chrono::milliseconds deadline = std::chrono::seconds(5));

} // namespace rapi::test
