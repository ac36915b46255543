#pragma once

/// \file
/// The load generator of recording-bench: one thread, one epoll instance,
/// many keep-alive HTTP/1.1 connections to 127.0.0.1, one request in
/// flight per connection (no pipelining).
///
/// Two modes:
/// - closed loop: every connection sends its next request as soon as the
///   previous answer is in; latency is measured from the send. This finds
///   the maximum throughput.
/// - open loop: requests are due on a fixed schedule (request i of the
///   whole run at `start + i / rate`, split over the workers); each is sent
///   on a free connection as soon as it is due, and its latency is measured
///   from the *scheduled* time, so a stalled server cannot hide its stall
///   by slowing the client down (no coordinated omission). A request that
///   finds no free connection (or no agent ready for its next step) waits
///   in a backlog, still timed from its schedule, and is counted as
///   `waited`; one sent more than `late_ms` after its time counts as
///   `late`.
///
/// What to send comes from a `workload`, which also learns each answer so
/// that scripted agents can move on to their next step.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench_util.hpp"

namespace rapi::bench {

/// One request a workload wants sent.
struct load_request {
  std::string wire;      ///< the complete HTTP/1.1 request
  std::uint32_t tag = 0; ///< the workload's handle (e.g. agent index)
  std::uint8_t op = 0;   ///< operation class, for per-operation latency
};

/// What to send next, and what to do with each answer.
class workload {
public:
  virtual ~workload() = default;
  /// Fills `r` with the next request; false when none is ready now (every
  /// agent has a request in flight).
  virtual bool next(load_request& r) = 0;
  /// The answer to `r` (status 0: no answer, the connection failed).
  virtual void done(const load_request& r, int status) = 0;
  /// Number of operation classes and their names.
  virtual std::size_t op_count() const = 0;
  virtual const char* op_name(std::size_t op) const = 0;
};

/// How one worker runs.
struct load_settings {
  std::uint16_t port = 0;
  unsigned connections = 32;
  /// Requests per second of *this worker*; 0 = closed loop.
  double rate = 0;
  /// Open loop: this worker's first request is due at `start + offset_s`.
  double offset_s = 0;
  clock::time_point start;
  /// Requests sent (closed) or due (open) in [from, end) are measured.
  clock::time_point from;
  clock::time_point end;
  /// A request without its answer after this long fails its connection.
  std::chrono::milliseconds timeout{30'000};
  /// After `end`, in-flight requests and the open-loop backlog get this
  /// long to finish; what is left then counts as `unsent` / failed.
  std::chrono::milliseconds drain{30'000};
  /// Open loop: a send more than this late counts as `late`.
  double late_ms = 1.0;
  /// Bodies of the first non-200 answers kept for the report.
  unsigned keep_errors = 5;
  /// Answers slower than this count as slow in the timeline.
  double slow_ms = 2.0;
  /// When set and true, the run ends now (as if `end` had come).
  const std::atomic<bool>* stop = nullptr;
};

/// What one worker measured.
struct load_stats {
  std::vector<std::vector<double>> op_ms; ///< latency per op (measured)
  std::vector<double> service_ms;         ///< open loop: from the send
  std::uint64_t sent = 0;                 ///< all requests sent
  std::uint64_t measured = 0;             ///< answers of measured requests
  std::uint64_t completed_in_window = 0;  ///< answers arriving in the window
  std::uint64_t errors = 0;               ///< non-200 answers (measured or not)
  std::uint64_t failures = 0;             ///< broken/closed/unparsable
  std::uint64_t timeouts = 0;             ///< no answer within `timeout`
  std::uint64_t reconnects = 0;
  std::uint64_t scheduled = 0; ///< open loop: due in the window
  std::uint64_t late = 0;      ///< open loop: sent > late_ms after due
  std::uint64_t waited = 0;    ///< open loop: found nothing free when due
  std::uint64_t unsent = 0;    ///< open loop: still in the backlog at the end
  double max_lag_ms = 0;       ///< open loop: worst send delay
  std::map<int, std::uint64_t> statuses; ///< non-200 statuses
  std::vector<std::string> first_errors;
  /// Per `timeline_bucket_ms` since the window's start (measured
  /// requests, by answer time): answers, slowest latency, answers slower
  /// than `slow_ms`. Shows whether slow answers come in bursts.
  struct bucket {
    std::uint64_t answers = 0;
    std::uint64_t slow = 0;
    double max_ms = 0;
  };
  std::vector<bucket> timeline;
};

/// Width of a `load_stats::timeline` bucket.
constexpr double timeline_bucket_ms = 250;

/// Adds `b` into `a`.
inline void merge_stats(load_stats& a, const load_stats& b) {
  if (a.op_ms.size() < b.op_ms.size())
    a.op_ms.resize(b.op_ms.size());
  for (std::size_t i = 0; i < b.op_ms.size(); ++i)
    a.op_ms[i].insert(a.op_ms[i].end(), b.op_ms[i].begin(), b.op_ms[i].end());
  a.service_ms.insert(a.service_ms.end(), b.service_ms.begin(),
                      b.service_ms.end());
  a.sent += b.sent;
  a.measured += b.measured;
  a.completed_in_window += b.completed_in_window;
  a.errors += b.errors;
  a.failures += b.failures;
  a.timeouts += b.timeouts;
  a.reconnects += b.reconnects;
  a.scheduled += b.scheduled;
  a.late += b.late;
  a.waited += b.waited;
  a.unsent += b.unsent;
  a.max_lag_ms = std::max(a.max_lag_ms, b.max_lag_ms);
  for (auto& [s, n] : b.statuses)
    a.statuses[s] += n;
  for (auto& e : b.first_errors)
    if (a.first_errors.size() < 5)
      a.first_errors.push_back(e);
  if (a.timeline.size() < b.timeline.size())
    a.timeline.resize(b.timeline.size());
  for (std::size_t i = 0; i < b.timeline.size(); ++i) {
    a.timeline[i].answers += b.timeline[i].answers;
    a.timeline[i].slow += b.timeline[i].slow;
    a.timeline[i].max_ms = std::max(a.timeline[i].max_ms,
                                    b.timeline[i].max_ms);
  }
}

/// Live counters the main thread prints progress from.
struct load_progress {
  std::atomic<std::uint64_t> answers{0};
  std::atomic<std::uint64_t> errors{0};
};

/// One event loop driving `settings.connections` connections.
class load_worker {
public:
  load_worker(workload& w, load_settings s, load_progress& progress)
    : w_(w), s_(std::move(s)), progress_(progress) {
    stats_.op_ms.resize(w_.op_count());
  }

  ~load_worker() {
    for (auto& c : conns_)
      if (c.fd >= 0)
        ::close(c.fd);
    if (ep_ >= 0)
      ::close(ep_);
  }

  load_worker(const load_worker&) = delete;
  load_worker& operator=(const load_worker&) = delete;

  /// Opens the connections (before `start`, so connecting is not timed).
  void connect_all() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0)
      throw std::runtime_error("epoll_create1 failed");
    conns_.resize(s_.connections);
    for (std::size_t i = 0; i < conns_.size(); ++i)
      open_conn(i);
  }

  /// Sets when sending starts, and the measured window [from, end).
  void set_window(clock::time_point start, clock::time_point from,
                  clock::time_point end) {
    s_.start = start;
    s_.from = from;
    s_.end = end;
  }

  /// Runs until `end` plus the drain; call `connect_all` first.
  void run() {
    const bool open = s_.rate > 0;
    const double interval_s = open ? 1.0 / s_.rate : 0;
    std::uint64_t next_i = 0;
    auto due_at = [&](std::uint64_t i) {
      return s_.start
             + std::chrono::duration_cast<clock::duration>(
               std::chrono::duration<double>(s_.offset_s
                                             + static_cast<double>(i)
                                                 * interval_s));
    };
    clock::time_point next_due = due_at(0);
    auto drain_end = s_.end + s_.drain;
    auto last_timeout_check = clock::now();
    std::vector<epoll_event> events(256);
    load_request req;

    while (true) {
      auto now = clock::now();
      if (s_.stop && now < s_.end && s_.stop->load()) {
        s_.end = now;
        drain_end = now + s_.drain;
      }
      const bool issuing = now < s_.end;
      if (!issuing && in_flight_ == 0 && backlog_.empty())
        break;
      if (now >= drain_end) {
        stats_.unsent += backlog_.size();
        backlog_.clear();
        for (std::size_t i = 0; i < conns_.size(); ++i)
          if (conns_[i].busy)
            fail_conn(i, false);
        break;
      }

      // Issue what is due.
      if (open) {
        while (next_due <= now && next_due < s_.end) {
          backlog_.push_back({next_due, next_i});
          ++next_i;
          next_due = due_at(next_i);
        }
        while (!backlog_.empty() && !idle_.empty()) {
          if (!w_.next(req))
            break;
          const auto [due, seq] = backlog_.front();
          backlog_.pop_front();
          send(req, due, now);
        }
        if (!backlog_.empty() && backlog_.back().second >= waited_upto_) {
          // Everything now in the backlog found nothing free when due.
          for (auto& b : backlog_)
            if (b.second >= waited_upto_)
              ++stats_.waited;
          waited_upto_ = backlog_.back().second + 1;
        }
      } else if (issuing) {
        while (!idle_.empty() && w_.next(req))
          send(req, now, now);
      }

      // Sleep until an answer arrives or the next request is due (with
      // nanosecond precision: epoll_pwait2, no timer descriptor to arm and
      // read per request).
      clock::duration wait = std::chrono::milliseconds(50);
      if (open && next_due < s_.end)
        wait = std::min(wait, next_due - now);
      else if (!open)
        wait = std::min<clock::duration>(
          wait, issuing ? s_.end - now : std::chrono::milliseconds(10));
      const int n = wait_events(events, std::max(wait, clock::duration{}));
      for (int k = 0; k < n; ++k)
        on_event(static_cast<std::size_t>(events[k].data.u64),
                 events[k].events);

      now = clock::now();
      if (now - last_timeout_check > std::chrono::milliseconds(100)) {
        last_timeout_check = now;
        for (std::size_t i = 0; i < conns_.size(); ++i)
          if (conns_[i].busy && now - conns_[i].sent > s_.timeout) {
            ++stats_.timeouts;
            fail_conn(i, true);
          }
      }
    }
  }

  load_stats& stats() { return stats_; }

private:
  /// epoll_pwait2 (Linux 5.11) with a `wait` timeout; epoll_wait with the
  /// timeout rounded up to whole milliseconds where it is missing.
  int wait_events(std::vector<epoll_event>& events, clock::duration wait) {
    const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    int n = -1;
    if (have_pwait2_) {
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      n = ::epoll_pwait2(ep_, events.data(), static_cast<int>(events.size()),
                         &ts, nullptr);
      if (n < 0 && errno == ENOSYS)
        have_pwait2_ = false;
    }
    if (!have_pwait2_)
      n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                       static_cast<int>((ns + 999'999) / 1'000'000));
    if (n < 0 && errno != EINTR)
      throw std::runtime_error("epoll_wait failed");
    return std::max(n, 0);
  }

  struct conn {
    int fd = -1;
    bool busy = false;
    bool want_out = false;
    bool measured = false;
    std::string out;
    std::size_t out_off = 0;
    std::string in;
    clock::time_point due;
    clock::time_point sent;
    load_request req;
  };

  void open_conn(std::size_t i) {
    conn& c = conns_[i];
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(s_.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error("connect to 127.0.0.1:"
                               + std::to_string(s_.port) + ": "
                               + std::strerror(e));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    c.fd = fd;
    c.busy = false;
    c.want_out = false;
    c.in.clear();
    c.in.reserve(4096);
    idle_.push_back(i);
  }

  void send(load_request& req, clock::time_point due, clock::time_point now) {
    const std::size_t i = idle_.front();
    idle_.pop_front();
    conn& c = conns_[i];
    std::swap(c.req, req);
    c.out.swap(c.req.wire); // keep the request's buffer for reuse
    c.req.wire.clear();
    c.out_off = 0;
    c.busy = true;
    c.due = due;
    const bool open = s_.rate > 0;
    c.measured = due >= s_.from && due < s_.end;
    if (open) {
      if (c.measured)
        ++stats_.scheduled;
      const double lag = ms_between(due, now);
      if (lag > s_.late_ms)
        ++stats_.late;
      stats_.max_lag_ms = std::max(stats_.max_lag_ms, lag);
    }
    c.sent = clock::now();
    ++stats_.sent;
    ++in_flight_;
    write_some(i);
  }

  void write_some(std::size_t i) {
    conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_off,
                               c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out(i, true);
        return;
      }
      fail_conn(i, true);
      return;
    }
    set_out(i, false);
  }

  void set_out(std::size_t i, bool want) {
    conn& c = conns_[i];
    if (c.want_out == want)
      return;
    c.want_out = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void on_event(std::size_t i, std::uint32_t what) {
    conn& c = conns_[i];
    if (c.fd < 0)
      return;
    if ((what & EPOLLOUT) && c.busy)
      write_some(i);
    if (c.fd < 0)
      return;
    if (what & (EPOLLIN | EPOLLHUP | EPOLLERR))
      read_some(i);
  }

  void read_some(std::size_t i) {
    conn& c = conns_[i];
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf)
          break;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      // Closed or broken.
      fail_conn(i, c.busy);
      return;
    }
    if (!c.busy) {
      if (!c.in.empty()) // bytes nobody asked for
        fail_conn(i, true);
      return;
    }
    parse(i);
  }

  /// Completes the exchange on connection `i` once the whole answer is in.
  void parse(std::size_t i) {
    conn& c = conns_[i];
    const auto head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return;
    const std::string_view head(c.in.data(), head_end);
    int status = 0;
    if (head.size() >= 12 && head.compare(0, 5, "HTTP/") == 0)
      for (std::size_t k = 9; k < 12; ++k)
        status = status * 10 + (head[k] - '0');
    std::size_t length = 0;
    bool have_length = false;
    bool close_after = false;
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      const std::size_t line_start = pos + 2;
      std::size_t line_end = head.find("\r\n", line_start);
      if (line_end == std::string_view::npos)
        line_end = head.size();
      const std::string_view line =
        head.substr(line_start, line_end - line_start);
      if (starts_with_nocase(line, "content-length:")) {
        length = std::strtoull(line.data() + 15, nullptr, 10);
        have_length = true;
      } else if (starts_with_nocase(line, "connection:")
                 && line.find("close") != std::string_view::npos) {
        close_after = true;
      } else if (starts_with_nocase(line, "transfer-encoding:")) {
        have_length = false; // chunked: not used by these routes
        break;
      }
      pos = line_end;
    }
    if (status < 100 || !have_length) {
      fail_conn(i, true);
      return;
    }
    const std::size_t total = head_end + 4 + length;
    if (c.in.size() < total)
      return;
    if (c.in.size() > total) {
      fail_conn(i, true);
      return;
    }
    const auto now = clock::now();
    if (c.measured) {
      const double ms = ms_between(s_.rate > 0 ? c.due : c.sent, now);
      stats_.op_ms[c.req.op].push_back(ms);
      if (s_.rate > 0)
        stats_.service_ms.push_back(ms_between(c.sent, now));
      ++stats_.measured;
      const double at = ms_between(s_.from, now);
      if (at >= 0) {
        const auto b = static_cast<std::size_t>(at / timeline_bucket_ms);
        if (b >= stats_.timeline.size())
          stats_.timeline.resize(b + 1);
        auto& bk = stats_.timeline[b];
        ++bk.answers;
        bk.slow += ms > s_.slow_ms ? 1 : 0;
        bk.max_ms = std::max(bk.max_ms, ms);
      }
    }
    if (now >= s_.from && now < s_.end)
      ++stats_.completed_in_window;
    if (status != 200) {
      ++stats_.errors;
      ++stats_.statuses[status];
      progress_.errors.fetch_add(1, std::memory_order_relaxed);
      if (stats_.first_errors.size() < s_.keep_errors)
        stats_.first_errors.push_back(
          std::string(w_.op_name(c.req.op)) + " -> "
          + std::to_string(status) + " "
          + c.in.substr(head_end + 4, std::min<std::size_t>(length, 300)));
    }
    progress_.answers.fetch_add(1, std::memory_order_relaxed);
    c.in.clear();
    c.busy = false;
    --in_flight_;
    c.req.wire.swap(c.out); // hand the buffer back for reuse
    w_.done(c.req, status);
    if (close_after) {
      reopen(i);
      return;
    }
    idle_.push_back(i);
  }

  static bool starts_with_nocase(std::string_view s, std::string_view p) {
    if (s.size() < p.size())
      return false;
    for (std::size_t k = 0; k < p.size(); ++k) {
      char a = s[k];
      if (a >= 'A' && a <= 'Z')
        a = static_cast<char>(a - 'A' + 'a');
      if (a != p[k])
        return false;
    }
    return true;
  }

  /// Drops connection `i` (its request, if any, fails) and opens a new one.
  void fail_conn(std::size_t i, bool count) {
    conn& c = conns_[i];
    if (c.busy) {
      if (count) {
        ++stats_.failures;
        progress_.errors.fetch_add(1, std::memory_order_relaxed);
        if (stats_.first_errors.size() < s_.keep_errors)
          stats_.first_errors.push_back(
            std::string(w_.op_name(c.req.op))
            + " -> connection failed or no valid answer: "
            + c.in.substr(0, 200));
      }
      c.busy = false;
      --in_flight_;
      w_.done(c.req, 0);
    }
    idle_.erase(std::remove(idle_.begin(), idle_.end(), i), idle_.end());
    reopen(i);
  }

  void reopen(std::size_t i) {
    conn& c = conns_[i];
    if (c.fd >= 0) {
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      c.fd = -1;
    }
    ++stats_.reconnects;
    try {
      open_conn(i);
    } catch (const std::exception&) {
      // The server is gone; the connection stays closed.
    }
  }

  workload& w_;
  load_settings s_;
  load_progress& progress_;
  load_stats stats_;
  int ep_ = -1;
  bool have_pwait2_ = true;
  std::vector<conn> conns_;
  /// Free connections, used in turn (FIFO) so none sits idle long enough
  /// for the server's idle timeout (`limits.read_timeout_ms`).
  std::deque<std::size_t> idle_;
  std::deque<std::pair<clock::time_point, std::uint64_t>> backlog_;
  std::uint64_t waited_upto_ = 0;
  std::size_t in_flight_ = 0;
};

} // namespace rapi::bench
