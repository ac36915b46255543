#pragma once

/// \file
/// A server under load, started for recording-bench: like
/// `rapi::test::server_process`, but the server's output after the
/// "listening on" lines is read and thrown away (only a tail is kept), so a
/// server logging one line per request (`log.level` info, the default) can
/// run for minutes without the bench buffering hundreds of MiB. Works for
/// the real server and for baseline-server alike.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rapi::bench {

/// One server process with its output drained in the background.
class server_child {
public:
  /// Environment variables set on top of the bench's own.
  using env_list = std::vector<std::pair<std::string, std::string>>;

  /// Runs `binary` with `args`, waits until it printed both
  /// `api listening on http://...:PORT` and `admin listening on ...`;
  /// throws std::runtime_error (with the output) if it exits first or
  /// takes longer than `timeout`.
  server_child(std::string binary, std::vector<std::string> args,
               const env_list& env, std::chrono::milliseconds timeout)
    : argv_(std::move(args)) {
    argv_.insert(argv_.begin(), std::move(binary));
    spawn(env);
    reader_ = std::thread([this] { read_loop(); });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (api_port_ != 0 && admin_port_ != 0)
          return;
      }
      if (!running())
        fail("exited (code " + std::to_string(exit_code_.value_or(-1))
             + ") before printing both \"listening on\" lines");
      if (std::chrono::steady_clock::now() >= deadline)
        fail("did not print both \"listening on\" lines in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  ~server_child() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
    join_reader();
  }

  server_child(const server_child&) = delete;
  server_child& operator=(const server_child&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t api_port() const { return api_port_; }
  std::uint16_t admin_port() const { return admin_port_; }

  /// Bytes the server printed so far.
  std::uint64_t output_bytes() const { return bytes_.load(); }

  /// The first lines (up to the "listening on" lines) and the last 64 KiB
  /// of the output.
  std::string output() const {
    std::lock_guard<std::mutex> lock(mu_);
    return head_ + (dropped_ ? "\n[...]\n" : "") + tail_;
  }

  bool running() const { return pid_ > 0 && !reap(false); }

  /// Sends `sig` and waits up to `deadline` for the exit; returns the exit
  /// code (128 + signal when killed by one). Throws when it does not exit.
  int stop(int sig, std::chrono::milliseconds deadline) {
    if (running())
      ::kill(pid_, sig);
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!reap(false)) {
      if (std::chrono::steady_clock::now() >= end)
        throw std::runtime_error("pid " + std::to_string(pid_)
                                 + " did not exit after signal "
                                 + std::to_string(sig));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    join_reader();
    return *exit_code_;
  }

private:
  void spawn(const env_list& env) {
    std::vector<char*> args;
    for (auto& a : argv_)
      args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view kv(*e);
      const auto name = kv.substr(0, kv.find('='));
      if (std::none_of(env.begin(), env.end(),
                       [&](const auto& v) { return v.first == name; }))
        env_strings.emplace_back(kv);
    }
    for (const auto& [name, value] : env)
      env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings)
      envp.push_back(s.data());
    envp.push_back(nullptr);

    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP)
          ::sigaction(s, &dfl, nullptr);
      if (devnull >= 0)
        ::dup2(devnull, 0);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      for (int fd = 0; fd <= 2; ++fd)
        ::fcntl(fd, F_SETFD, 0);
      ::execve(args[0], args.data(), envp.data());
      const char msg[] = "exec failed\n";
      [[maybe_unused]] ssize_t w = ::write(2, msg, sizeof msg - 1);
      ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(out[1]);
    if (devnull >= 0)
      ::close(devnull);
    if (pid < 0) {
      ::close(out[0]);
      throw std::runtime_error(std::string("fork: ")
                               + std::strerror(fork_errno));
    }
    pid_ = pid;
    fd_ = out[0];
  }

  /// The port of "<label> listening on http://ADDR:PORT" in `line`, or 0.
  static std::uint16_t port_of(std::string_view line, std::string_view label) {
    const std::string needle = std::string(label) + " listening on http://";
    const auto at = line.find(needle);
    if (at == std::string_view::npos)
      return 0;
    const auto colon = line.rfind(':');
    if (colon == std::string_view::npos || colon < at + needle.size())
      return 0;
    unsigned port = 0;
    for (std::size_t i = colon + 1; i < line.size(); ++i) {
      if (line[i] < '0' || line[i] > '9')
        break;
      port = port * 10 + static_cast<unsigned>(line[i] - '0');
    }
    return port > 0 && port <= 65535 ? static_cast<std::uint16_t>(port) : 0;
  }

  void read_loop() {
    constexpr std::size_t keep = 64 * 1024;
    char buf[65536];
    std::string line;
    bool scanning = true;
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      bytes_ += static_cast<std::uint64_t>(n);
      std::lock_guard<std::mutex> lock(mu_);
      if (scanning) {
        // Until both ports are known: whole lines, kept in `head_`.
        for (ssize_t i = 0; i < n; ++i) {
          if (!scanning) {
            tail_.append(buf + i, static_cast<std::size_t>(n - i));
            break;
          }
          line.push_back(buf[i]);
          if (buf[i] != '\n')
            continue;
          if (head_.size() < keep)
            head_ += line;
          if (auto p = port_of(line, "api"))
            api_port_ = p;
          if (auto p = port_of(line, "admin"))
            admin_port_ = p;
          line.clear();
          scanning = api_port_ == 0 || admin_port_ == 0;
        }
      } else {
        tail_.append(buf, static_cast<std::size_t>(n));
      }
      if (tail_.size() > 2 * keep) {
        tail_.erase(0, tail_.size() - keep);
        dropped_ = true;
      }
    }
    ::close(fd_);
  }

  void join_reader() {
    if (reader_.joinable())
      reader_.join();
  }

  bool reap(bool block) const {
    if (exit_code_)
      return true;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != pid_)
      return r < 0; // ECHILD: already gone
    exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                 : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                       : -1;
    return true;
  }

  [[noreturn]] void fail(const std::string& why) {
    if (running()) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
    join_reader();
    std::string cmd;
    for (auto& a : argv_)
      cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error("`" + cmd + "` " + why + "\n--- output ---\n"
                             + output() + "--- end of output ---");
  }

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int fd_ = -1;
  mutable std::optional<int> exit_code_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string head_;
  std::string tail_;
  bool dropped_ = false;
  std::uint16_t api_port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::atomic<std::uint64_t> bytes_{0};
};

} // namespace rapi::bench
