#include "tests/support/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace rapi::test {

namespace {

using clock = std::chrono::steady_clock;

/// Longest status/header/chunk-size line accepted before giving up.
constexpr std::size_t max_line = 1 << 20;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("http_client: " + what);
}

[[noreturn]] void fail_errno(const std::string& what, int err) {
  fail(what + ": " + std::strerror(err));
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// True if the comma-separated header value `list` holds `token`
/// (case-insensitive), e.g. "keep-alive, close" holds "close".
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

/// Milliseconds left until `deadline`, rounded up, for poll().
int remaining_ms(clock::time_point deadline) {
  auto left = deadline - clock::now();
  if (left <= clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

/// Waits for `events` on `fd`; returns the revents, 0 on timeout.
short wait_fd(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_errno("poll", errno);
    }
    return r == 0 ? 0 : p.revents;
  }
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

} // namespace

std::string http_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

bool http_response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

http_client::http_client(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port) {}

http_client::~http_client() { close(); }

http_client::http_client(const http_client& other)
    : host_(other.host_), port_(other.port_), timeout_(other.timeout_) {}

http_client& http_client::operator=(const http_client& other) {
  if (this != &other) {
    close();
    host_ = other.host_;
    port_ = other.port_;
    timeout_ = other.timeout_;
    connections_ = 0;
  }
  return *this;
}

http_client::http_client(http_client&& other) noexcept
    : host_(std::move(other.host_)),
      port_(other.port_),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      received_(other.received_),
      connections_(other.connections_),
      timeout_(other.timeout_) {}

http_client& http_client::operator=(http_client&& other) noexcept {
  if (this != &other) {
    close();
    host_ = std::move(other.host_);
    port_ = other.port_;
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    received_ = other.received_;
    connections_ = other.connections_;
    timeout_ = other.timeout_;
  }
  return *this;
}

void http_client::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
  received_ = 0;
}

int http_client::open_socket(clock::time_point deadline) const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(port_);
  const std::string where = host_ + ":" + port;
  if (int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &list); rc != 0) {
    fail("cannot resolve " + where + ": " + ::gai_strerror(rc));
  }
  int err = 0;
  int fd = -1;
  for (addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    err = errno;
    if (err == EINPROGRESS) {
      if (wait_fd(fd, POLLOUT, deadline) == 0) {
        ::close(fd);
        ::freeaddrinfo(list);
        fail("timed out connecting to " + where);
      }
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0) break;
    }
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(list);
  if (fd < 0) fail_errno("cannot connect to " + where, err);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool http_client::peer_closed() const {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c = 0;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK);
  if (n > 0) return false; // unexpected bytes: leave them for the parser
  if (n == 0) return true;
  return !would_block(errno) && errno != EINTR;
}

/// Returns false when sending stopped early: the peer closed or reset the
/// connection, or started answering while it stopped reading.
bool http_client::send_all(std::string_view data, clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EPIPE || err == ECONNRESET) return false;
    if (!would_block(err)) fail_errno("send", err);
    short ev = wait_fd(fd_, POLLOUT | POLLIN, deadline);
    if (ev == 0) fail("timed out sending the request");
    if ((ev & POLLIN) && !(ev & POLLOUT)) return false; // early answer
  }
  return true;
}

/// Appends what arrives to buffer_; false on orderly close or reset.
bool http_client::fill(clock::time_point deadline) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      received_ += static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) return false;
    int err = errno;
    if (err == EINTR) continue;
    if (err == ECONNRESET) return false;
    if (!would_block(err)) fail_errno("recv", err);
    if (wait_fd(fd_, POLLIN, deadline) == 0) fail("timed out waiting for the response");
  }
}

bool http_client::read_line(std::string& line, clock::time_point deadline) {
  std::size_t scanned = 0;
  for (;;) {
    auto pos = buffer_.find('\n', scanned);
    if (pos != std::string::npos) {
      line.assign(buffer_, 0, pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      buffer_.erase(0, pos + 1);
      return true;
    }
    if (buffer_.size() > max_line) fail("response line longer than 1 MiB");
    scanned = buffer_.size();
    if (!fill(deadline)) return false;
  }
}

void http_client::read_exact(std::string& out, std::size_t n, clock::time_point deadline) {
  while (buffer_.size() < n) {
    if (!fill(deadline)) {
      fail("connection closed in the middle of the body (" + std::to_string(buffer_.size()) +
           " of " + std::to_string(n) + " bytes)");
    }
  }
  out.append(buffer_, 0, n);
  buffer_.erase(0, n);
}

/// Reads one final response into `out`. Returns false when the connection
/// closed before a single byte of it arrived.
bool http_client::read_response(std::string_view method, clock::time_point deadline,
                                http_response& out, bool& close_after) {
  const std::size_t mark = received_;
  const bool nothing_pending = buffer_.empty();
  std::string line;
  bool http10 = false;
  for (;;) { // until a final (non-1xx) status
    out = http_response{};
    if (!read_line(line, deadline)) {
      if (nothing_pending && received_ == mark && buffer_.empty()) return false;
      fail("connection closed in the middle of the response head");
    }
    // "HTTP/1.1 200 OK"
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0 || line[8] != ' ' ||
        !std::isdigit(static_cast<unsigned char>(line[9])) ||
        !std::isdigit(static_cast<unsigned char>(line[10])) ||
        !std::isdigit(static_cast<unsigned char>(line[11])) ||
        (line.size() > 12 && line[12] != ' ')) {
      fail("malformed status line: \"" + line + "\"");
    }
    http10 = line.compare(0, 8, "HTTP/1.0") == 0;
    out.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    for (;;) {
      if (!read_line(line, deadline)) fail("connection closed in the middle of the headers");
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0) fail("malformed header line: \"" + line + "\"");
      out.headers.emplace_back(line.substr(0, colon),
                               std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    if (out.status >= 100 && out.status < 200 && out.status != 101) continue;
    break;
  }

  close_after = false;
  for (const auto& [key, value] : out.headers) {
    if (iequals(key, "Connection") && has_token(value, "close")) close_after = true;
  }
  if (http10 && !has_token(out.header("Connection"), "keep-alive")) close_after = true;

  if (method == "HEAD" || out.status == 204 || out.status == 304) return true;
  if (out.status == 101) {
    close_after = true;
    return true;
  }

  bool chunked = false;
  for (const auto& [key, value] : out.headers) {
    if (iequals(key, "Transfer-Encoding") && has_token(value, "chunked")) chunked = true;
  }
  if (chunked) {
    for (;;) {
      if (!read_line(line, deadline)) fail("connection closed in the middle of a chunked body");
      std::size_t size = 0;
      std::size_t i = 0;
      for (; i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i])); ++i) {
        if (size > (SIZE_MAX >> 4)) fail("chunk size overflows: \"" + line + "\"");
        char c = lower(line[i]);
        size = size * 16 + static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      }
      if (i == 0 || (i < line.size() && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
        fail("malformed chunk size line: \"" + line + "\"");
      }
      if (size == 0) break;
      read_exact(out.body, size, deadline);
      if (!read_line(line, deadline) || !line.empty()) fail("chunk data not followed by CRLF");
    }
    for (;;) { // trailers
      if (!read_line(line, deadline)) fail("connection closed in the chunked trailers");
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string::npos) fail("malformed trailer line: \"" + line + "\"");
      out.headers.emplace_back(line.substr(0, colon),
                               std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    return true;
  }

  bool have_length = false;
  std::size_t length = 0;
  for (const auto& [key, value] : out.headers) {
    if (!iequals(key, "Content-Length")) continue;
    auto v = trim(value);
    std::size_t n = 0;
    if (v.empty() || v.size() > 18 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      fail("malformed Content-Length: \"" + value + "\"");
    }
    for (char c : v) n = n * 10 + static_cast<std::size_t>(c - '0');
    if (have_length && n != length) fail("conflicting Content-Length headers");
    have_length = true;
    length = n;
  }
  if (have_length) {
    read_exact(out.body, length, deadline);
    return true;
  }

  // Neither chunked nor a length: the body runs until the server closes.
  while (fill(deadline)) {
  }
  out.body = std::move(buffer_);
  buffer_.clear();
  close_after = true;
  return true;
}

http_response http_client::request(std::string_view method, std::string_view target,
                                   std::string_view body, const header_list& headers) {
  auto given = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return iequals(h.first, name); });
  };
  auto automatic = [](std::string_view name) {
    return iequals(name, "Host") || iequals(name, "Content-Type") ||
           iequals(name, "Content-Length");
  };

  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!given("Host")) {
    bool v6 = host_.find(':') != std::string::npos;
    req.append("Host: ")
        .append(v6 ? "[" : "")
        .append(host_)
        .append(v6 ? "]" : "")
        .append(":")
        .append(std::to_string(port_))
        .append("\r\n");
  }
  for (const auto& [name, value] : headers) {
    if (value.empty() && automatic(name)) continue; // suppressed
    req.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (!given("Content-Type")) req.append("Content-Type: application/json\r\n");
    if (!given("Content-Length") && !given("Transfer-Encoding")) {
      req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
  }
  req.append("\r\n").append(body);

  const auto deadline = clock::now() + timeout_;
  try {
    for (int attempt = 0;; ++attempt) {
      bool reused = fd_ >= 0;
      if (reused && peer_closed()) {
        close();
        reused = false;
      }
      if (fd_ < 0) {
        fd_ = open_socket(deadline);
        ++connections_;
      }
      bool sent_all = send_all(req, deadline);
      http_response resp;
      bool close_after = false;
      if (read_response(method, deadline, resp, close_after)) {
        if (close_after || !sent_all) close();
        return resp;
      }
      close();
      if (!reused || attempt > 0) return http_response{};
      // The server had dropped the idle keep-alive connection: retry once.
    }
  } catch (const std::exception& e) {
    close();
    throw std::runtime_error(std::string(e.what()) + " [" + std::string(method) + " " +
                             std::string(target) + " on " + host_ + ":" +
                             std::to_string(port_) + "]");
  }
}

http_response http_client::get(std::string_view target) { return request("GET", target); }

http_response http_client::post(std::string_view target, std::string_view body) {
  return request("POST", target, body);
}

http_response http_client::put(std::string_view target, std::string_view body) {
  return request("PUT", target, body);
}

http_response http_client::del(std::string_view target) { return request("DELETE", target); }

std::string http_client::raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  const int fd = open_socket(deadline);
  std::string out;
  bool can_send = true;
  char chunk[16384];
  for (;;) {
    short events = POLLIN;
    if (can_send && !bytes.empty()) events |= POLLOUT;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; // timeout (or poll failure)
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
      } else if (errno != EINTR && !would_block(errno)) {
        can_send = false; // peer closed or reset; keep reading what it sent
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && !would_block(errno))) {
        break; // closed or reset
      }
    }
  }
  ::close(fd);
  return out;
}

} // namespace rapi::test
