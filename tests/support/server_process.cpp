#include "tests/support/server_process.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RAPI_SERVER_BINARY
#define RAPI_SERVER_BINARY "recording-api"
#endif

extern char** environ;

namespace rapi::test {

namespace {

using clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

/// Exit code as the API reports it: the status, or 128 + signal.
int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

/// `name` itself if it has a slash, else the first executable `name` on
/// PATH (execve does not search PATH, and execvpe is not async-signal-safe).
std::string resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = (path != nullptr && *path != '\0') ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return name; // execve fails with ENOENT, reported by spawn()
}

struct child {
  pid_t pid = -1;
  int out_fd = -1; ///< read end of the child's stdout+stderr pipe
};

/// Forks and execs `argv` (argv[0] is the path) with `env` on top of the
/// current environment, stdin from /dev/null, stdout and stderr into a
/// pipe. Throws std::runtime_error if the exec fails.
child spawn(const std::vector<std::string>& argv, const env_list& env) {
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto name = kv.substr(0, kv.find('='));
    bool overridden = std::any_of(env.begin(), env.end(),
                                  [&](const auto& v) { return v.first == name; });
    if (!overridden) env_strings.emplace_back(kv);
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("server_process: pipe2: " + errno_text(errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("server_process: pipe2: " + errno_text(e));
  }
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Die with the thread that started us, so a crashed test leaves no
    // server behind; if that already happened, give up now.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // Signal mask and ignored signals survive exec: reset both.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) {
      if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
    }
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    for (int fd = 0; fd <= 2; ++fd) ::fcntl(fd, F_SETFD, 0); // in case dup2 was a no-op
    ::execve(args[0], args.data(), envp.data());
    int e = errno;
    [[maybe_unused]] ssize_t w = ::write(err[1], &e, sizeof e);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out[1]);
  ::close(err[1]);
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error("server_process: fork: " + errno_text(fork_errno));
  }

  // The error pipe closes on a successful exec; otherwise it carries errno.
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(err[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(err[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(out[0]);
    throw std::runtime_error("server_process: cannot execute " + argv[0] + ": " +
                             errno_text(exec_errno));
  }
  return {pid, out[0]};
}

/// Finds "<label> listening on http://<addr>:<port>" on a complete line of
/// `text` and returns the port.
std::optional<std::uint16_t> find_port(std::string_view text, std::string_view label) {
  const std::string needle = std::string(label) + " listening on http://";
  std::size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    const std::size_t start = pos;
    pos += needle.size();
    if (start > 0 && std::isalnum(static_cast<unsigned char>(text[start - 1]))) continue;
    const auto eol = text.find('\n', pos);
    if (eol == std::string_view::npos) break; // line not complete yet
    auto authority = text.substr(pos, eol - pos);
    authority = authority.substr(0, authority.find_first_of("/ \t\r"));
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) continue;
    auto digits = authority.substr(colon + 1);
    if (digits.empty() || digits.size() > 5) continue;
    unsigned port = 0;
    bool ok = true;
    for (char c : digits) {
      if (c < '0' || c > '9') ok = false;
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (ok && port > 0 && port <= 65535) return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

} // namespace

server_process::server_process(server_options opts) : opts_(std::move(opts)) {
  echo_ = env_flag("RAPI_TEST_ECHO");
  if (opts_.data_dir.empty()) {
    data_dir_ = make_temp_dir();
    owns_dir_ = true;
  } else {
    data_dir_ = opts_.data_dir;
  }
  try {
    start();
  } catch (...) {
    cleanup();
    throw;
  }
}

server_process::~server_process() { cleanup(); }

void server_process::cleanup() noexcept {
  if (pid_ > 0 && !reap(false)) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  finish_reader();
  if (owns_dir_ && !opts_.keep_data) remove_dir(data_dir_);
  owns_dir_ = false;
}

bool server_process::reap(bool block) const {
  if (pid_ <= 0 || exit_code_) return true;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      exit_code_ = decode_status(status);
      return true;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    exit_code_ = -1; // ECHILD: reaped elsewhere (SIGCHLD ignored?)
    return true;
  }
}

void server_process::reader_loop(int fd) {
  char buf[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 50);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) {
      // Idle: quit only once asked to (the process has exited, yet some
      // descendant may still hold the pipe open).
      if (reader_stop_.load()) break;
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (echo_) {
      [[maybe_unused]] ssize_t w = ::write(2, buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(out_mutex_);
      out_.append(buf, static_cast<std::size_t>(n));
    }
    out_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    out_eof_ = true;
  }
  out_cv_.notify_all();
}

/// Only once the process has exited: drains the pipe, joins the reader.
void server_process::finish_reader() {
  if (reader_.joinable()) {
    reader_stop_ = true;
    reader_.join();
  }
  reader_stop_ = false;
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

void server_process::fail_start(const std::string& why) {
  if (!reap(false)) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  finish_reader();
  throw std::runtime_error("server_process: `" + join_command(argv_) + "` " + why +
                           "\n--- server output ---\n" + output() + "--- end of output ---");
}

void server_process::start() {
  if (running()) throw std::logic_error("server_process::start: server is still running");
  finish_reader();

  argv_.clear();
  argv_.push_back(resolve_executable(opts_.binary.empty() ? binary_path() : opts_.binary));
  if (opts_.default_args) {
    for (const char* a : {"--port", "0", "--admin-port", "0", "--data-dir"}) argv_.emplace_back(a);
    argv_.push_back(data_dir_);
  }
  argv_.insert(argv_.end(), opts_.extra_args.begin(), opts_.extra_args.end());

  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    out_.clear();
    out_eof_ = false;
  }
  pid_ = -1;
  exit_code_.reset();
  api_port_ = 0;
  admin_port_ = 0;

  child c = spawn(argv_, opts_.env);
  pid_ = c.pid;
  out_fd_ = c.out_fd;
  reader_ = std::thread([this, fd = c.out_fd] { reader_loop(fd); });

  const auto deadline = clock::now() + opts_.start_timeout;
  std::unique_lock<std::mutex> lock(out_mutex_);
  for (;;) {
    auto api = find_port(out_, "api");
    auto admin = find_port(out_, "admin");
    if (api && admin) {
      api_port_ = *api;
      admin_port_ = *admin;
      return;
    }
    if (reap(false)) {
      lock.unlock();
      fail_start("exited with code " + std::to_string(*exit_code_) +
                 " before printing both \"listening on\" lines");
    }
    if (clock::now() >= deadline) {
      lock.unlock();
      fail_start("did not print both \"listening on\" lines within " +
                 std::to_string(opts_.start_timeout.count()) + " ms (killed)");
    }
    out_cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

http_client server_process::api() const { return http_client("127.0.0.1", api_port_); }

http_client server_process::admin() const { return http_client("127.0.0.1", admin_port_); }

int server_process::stop(int sig, std::chrono::milliseconds deadline) {
  if (pid_ <= 0) throw std::logic_error("server_process::stop: server was never started");
  if (!reap(false) && sig != 0 && ::kill(pid_, sig) != 0 && errno != ESRCH) {
    throw std::runtime_error("server_process: kill(" + std::to_string(pid_) + ", " +
                             std::to_string(sig) + "): " + errno_text(errno));
  }
  const auto end = clock::now() + deadline;
  while (!reap(false)) {
    if (clock::now() >= end) {
      throw std::runtime_error("server_process: pid " + std::to_string(pid_) +
                               " still running " + std::to_string(deadline.count()) +
                               " ms after signal " + std::to_string(sig) +
                               "\n--- server output ---\n" + output() +
                               "--- end of output ---");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  finish_reader();
  return *exit_code_;
}

void server_process::kill9() {
  if (pid_ <= 0) return;
  if (!reap(false)) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  finish_reader();
}

bool server_process::running() const { return pid_ > 0 && !reap(false); }

std::optional<int> server_process::exit_code() const {
  reap(false);
  return exit_code_;
}

std::string server_process::output() const {
  std::lock_guard<std::mutex> lock(out_mutex_);
  return out_;
}

bool server_process::wait_for_output(std::string_view needle,
                                     std::chrono::milliseconds deadline) const {
  std::unique_lock<std::mutex> lock(out_mutex_);
  out_cv_.wait_for(lock, deadline, [&] {
    return out_.find(needle) != std::string::npos || out_eof_;
  });
  return out_.find(needle) != std::string::npos;
}

run_result run_binary(const std::vector<std::string>& args, const env_list& env,
                      std::chrono::milliseconds deadline) {
  std::vector<std::string> argv{resolve_executable(binary_path())};
  argv.insert(argv.end(), args.begin(), args.end());
  child c = spawn(argv, env);

  const auto end = clock::now() + deadline;
  run_result result;
  bool exited = false;
  bool eof = false;
  char buf[8192];
  while (!(exited && eof)) {
    if (!exited && clock::now() >= end) {
      ::kill(c.pid, SIGKILL);
      int status = 0;
      while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
      }
      ::close(c.out_fd);
      throw std::runtime_error("run_binary: `" + join_command(argv) + "` did not exit within " +
                               std::to_string(deadline.count()) + " ms (killed)\n--- output ---\n" +
                               result.output + "--- end of output ---");
    }
    if (!eof) {
      pollfd p{c.out_fd, POLLIN, 0};
      int r = ::poll(&p, 1, exited ? 0 : 20);
      if (r > 0) {
        ssize_t n = ::read(c.out_fd, buf, sizeof buf);
        if (n > 0) {
          result.output.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0 || errno != EINTR) eof = true;
      } else if (r < 0 ? errno != EINTR : exited) {
        eof = true; // exited and the pipe is quiet (a descendant may hold it)
      }
    }
    if (!exited) {
      int status = 0;
      pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid) {
        exited = true;
        result.exit_code = decode_status(status);
      } else if (r < 0 && errno != EINTR) {
        exited = true;
        result.exit_code = -1;
      } else if (eof) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
  ::close(c.out_fd);
  return result;
}

namespace {

/// Function-local static: set_default_binary runs during static
/// initialisation of other translation units.
std::string& default_binary() {
  static std::string path = RAPI_SERVER_BINARY;
  return path;
}

} // namespace

void set_default_binary(std::string path) {
  if (!path.empty()) default_binary() = std::move(path);
}

std::string binary_path() {
  const char* env = std::getenv("RECORDING_API_BINARY");
  if (env != nullptr && *env != '\0') return env;
  return default_binary();
}

std::string make_temp_dir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  path.append("/").append(prefix).append("-XXXXXX");
  if (::mkdtemp(path.data()) == nullptr) {
    throw std::runtime_error("make_temp_dir: mkdtemp(" + path + "): " + errno_text(errno));
  }
  return path;
}

void remove_dir(const std::string& path) {
  if (path.empty() || path == "/") return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

bool poll_until(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  const auto end = clock::now() + deadline;
  for (;;) {
    if (cond()) return true;
    const auto now = clock::now();
    if (now >= end) return false;
    std::this_thread::sleep_for(
        std::min<clock::duration>(std::chrono::milliseconds(5), end - now));
  }
}

} // namespace rapi::test
