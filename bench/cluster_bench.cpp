/// cluster-bench: blackout propagation latency between two servers.
///
/// Starts (or uses, with RAPI_AMQP_URL) a RabbitMQ broker and two servers
/// A and B on one exchange, provisions the same agents on both, then, one
/// sample at a time, toggles an agent's blackout on one server
/// (`POST /api/Blackout/StartForAgent` / `StopForAgent`, agents taken in
/// turn) and polls the other with `GET /api/Agent` over a keep-alive
/// connection until `Blackout.Active` shows the new value. The latency of a
/// sample runs from the 200 of the change to the GET answer that shows it
/// (2 s without it: a timeout). Both directions, A -> B and B -> A.
/// Reports percentiles, timeouts and the measurement floor (one GET).
///
/// To tell where the time goes, an AMQP tap of its own (a plain socket
/// client on an exclusive queue bound to the same exchange) receives every
/// change at about the moment the observer's consumer does: each sample is
/// split into "200 -> broker delivery" (source's publisher and broker) and
/// "delivery -> seen" (observer's consumer, actor, GET). After the samples
/// the tap times the broker alone with probe messages. The CPU load of the
/// machine during each direction goes into the results too.

#include <algorithm>
#include <cinttypes>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include "bench/bench_util.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace {

using namespace rapi::bench;
using rapi::test::http_client;
using rapi::test::http_response;
using rapi::test::server_options;
using rapi::test::server_process;

/// Command-line options.
struct options {
  std::uint64_t samples = 2'000;
  std::uint64_t agents = 8;
  std::uint64_t warmup = 50;
  std::uint64_t floor_gets = 1'000;
  std::uint64_t deadline_ms = 2'000;
  std::uint64_t gap_ms = 0;
  std::uint64_t poll_us = 0;
  std::uint64_t probes = 500;
  bool tap = true;
  bool unbound_broker = false;
  std::string samples_out; ///< CSV of every measured sample ("" = none)
  std::string out = default_result_path("cluster.json");
  bool quick = false;
};

const char* const usage_text =
  "usage: cluster-bench [--quick] [--samples N] [--agents N] [--warmup N]\n"
  "                     [--gap-ms MS] [--poll-us US] [--probes N]\n"
  "                     [--no-tap] [--unbound-broker]\n"
  "                     [--samples-out CSV] [--out FILE]\n"
  "  --samples N   measured changes per direction (default 2000;\n"
  "                quick 200)\n"
  "  --agents N    agents provisioned on both servers, toggled in turn\n"
  "                (default 8)\n"
  "  --warmup N    unmeasured changes before them (default 50; quick 20)\n"
  "  --gap-ms MS   idle time before each change (default 0)\n"
  "  --poll-us US  pause between two GETs on the observer (default 0:\n"
  "                a tight loop, which keeps a CPU busy)\n"
  "  --no-tap      no AMQP tap (it splits each sample's time at the\n"
  "                broker: 200 -> delivery -> seen, and times the broker\n"
  "                alone with probe messages)\n"
  "  --probes N    broker probe messages (default 500; quick 100)\n"
  "  --unbound-broker\n"
  "                start the private broker with its Erlang schedulers\n"
  "                not bound to CPUs (RabbitMQ binds them by default)\n"
  "  --samples-out CSV  every measured sample, with CLOCK_MONOTONIC\n"
  "                times in ns (to line up with perf or strace)\n"
  "  --out FILE    JSON results (default bench/results/cluster.json)\n"
  "  --quick       200 samples (20 warm-up, 100 probes)\n"
  "Uses the broker of RAPI_AMQP_URL when set, else starts a private one\n"
  "with scripts/rabbitmq.sh (stopped at the end).\n";

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") {
      o.quick = true;
      o.samples = 200;
      o.warmup = 20;
      o.floor_gets = 200;
      o.probes = 100;
    }
  arg_reader a(argc, argv);
  while (a.more()) {
    if (a.flag("--quick") || a.number("--samples", o.samples)
        || a.number("--agents", o.agents) || a.number("--warmup", o.warmup)
        || a.number("--gap-ms", o.gap_ms) || a.number("--poll-us", o.poll_us)
        || a.number("--probes", o.probes) || a.value("--out", o.out)
        || a.value("--samples-out", o.samples_out))
      continue;
    if (a.flag("--no-tap")) {
      o.tap = false;
      continue;
    }
    if (a.flag("--unbound-broker")) {
      o.unbound_broker = true;
      continue;
    }
    if (a.flag("--help") || a.flag("-h")) {
      std::cout << usage_text;
      std::exit(0);
    }
    throw std::invalid_argument("unknown option '" + a.current() + "'");
  }
  if (o.samples == 0 || o.agents == 0)
    throw std::invalid_argument("need --samples > 0 and --agents > 0");
  return o;
}

// -- broker ------------------------------------------------------------------

/// The broker the servers use: RAPI_AMQP_URL, or a private one started with
/// scripts/rabbitmq.sh in a temp folder and stopped by the destructor.
class broker {
public:
  explicit broker(bool unbound) : unbound_(unbound) {
    const char* env = std::getenv("RAPI_AMQP_URL");
    if (env != nullptr && *env != '\0') {
      url_ = env;
      if (unbound)
        std::printf("[broker] --unbound-broker ignored: RAPI_AMQP_URL is "
                    "set\n");
      return;
    }
    dir_ = rapi::test::make_temp_dir("rapi-bench-broker");
    std::printf("[broker] starting a private RabbitMQ in %s\n", dir_.c_str());
    std::fflush(stdout);
    const auto t0 = clock::now();
    std::string text;
    const int rc = run("start", text);
    start_ms_ = ms_since(t0);
    const auto at = text.find("AMQP_URL=");
    if (rc != 0 || at == std::string::npos) {
      stop();
      throw std::runtime_error("scripts/rabbitmq.sh start failed:\n"
                               + tail(text));
    }
    url_ = text.substr(at + 9, text.find('\n', at) - at - 9);
    owned_ = true;
  }

  ~broker() { stop(); }

  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  const std::string& url() const { return url_; }
  bool owned() const { return owned_; }
  /// Erlang scheduler binding of a private broker ("" for RAPI_AMQP_URL).
  std::string binding() const {
    if (!owned_)
      return "";
    return unbound_ ? "unbound (+stbt u)" : "RabbitMQ default (+stbt db)";
  }
  double start_ms() const { return start_ms_; }

  /// The URL without credentials (for output).
  std::string where() const {
    const auto at = url_.rfind('@');
    const auto scheme = url_.find("://");
    if (at == std::string::npos || scheme == std::string::npos)
      return url_;
    return url_.substr(0, scheme + 3) + url_.substr(at + 1);
  }

  void stop() {
    if (dir_.empty())
      return;
    std::string ignored;
    run("stop", ignored);
    rapi::test::remove_dir(dir_);
    dir_.clear();
  }

private:
  /// Runs `rabbitmq.sh <verb> <dir>/broker` from `dir` (where an Erlang
  /// crash dump would land); returns its exit code.
  int run(const char* verb, std::string& output) const {
    const std::string cmd =
      "cd '" + dir_ + "' && "
      + (unbound_ ? "RABBITMQ_SCHEDULER_BIND_TYPE=u " : "")
      + "bash '" RAPI_SOURCE_DIR "/scripts/rabbitmq.sh' " + verb + " '"
      + dir_ + "/broker' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr)
      return -1;
    char buf[512];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      output.append(buf, n);
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool unbound_ = false;
  std::string url_;
  std::string dir_;
  bool owned_ = false;
  double start_ms_ = 0;
};

// -- AMQP tap ----------------------------------------------------------------

/// A passive AMQP 0-9-1 consumer, spoken directly over a socket (benches
/// link no AMQP library), on an exclusive auto-deleted queue of its own
/// bound to the servers' exchange. The fanout hands it every message at
/// about the moment it hands it to the servers' queues, which splits a
/// sample's latency into "until the broker delivers" (the source's
/// publisher and the broker) and "from delivery until the observer shows
/// it" (the observer's consumer, its agent actor, the GET).
class amqp_tap {
public:
  /// One Blackout message as the tap received it.
  struct delivery {
    clock::time_point at;         ///< when its last byte arrived
    std::int64_t wall_ms = 0;     ///< system clock then (ms since epoch)
    std::int64_t version_ms = 0;  ///< the change's stamp (Version.Wall)
    std::string origin;
    std::int64_t agent = 0;
    bool active = false;
  };

  /// Connects, declares and binds its queue and starts consuming; throws
  /// std::runtime_error on any failure.
  amqp_tap(const std::string& url, const std::string& exchange)
    : exchange_(exchange) {
    endpoint e = parse_url(url);
    connect(e.host, e.port);
    try {
      handshake(e, exchange);
    } catch (...) {
      ::close(fd_);
      throw;
    }
    reader_ = std::thread([this] { read_loop(); });
  }

  ~amqp_tap() {
    if (reader_.joinable()) {
      // connection.close(200), then wait a little for close-ok.
      std::string args;
      put16(args, 200);
      putshort(args, "bye");
      put16(args, 0);
      put16(args, 0);
      try {
        send_method(0, 10, 50, args);
      } catch (const std::exception&) {
      }
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return done_; });
      lock.unlock();
      ::shutdown(fd_, SHUT_RDWR);
      reader_.join();
    }
    if (fd_ >= 0)
      ::close(fd_);
  }

  amqp_tap(const amqp_tap&) = delete;
  amqp_tap& operator=(const amqp_tap&) = delete;

  /// Takes deliveries in order until the Blackout of `agent` from `origin`
  /// with `active`; waits up to `deadline` for it.
  std::optional<delivery> wait_for(const std::string& origin,
                                   std::int64_t agent, bool active,
                                   std::chrono::milliseconds deadline) {
    const auto until = clock::now() + deadline;
    std::unique_lock<std::mutex> lock{mtx_};
    for (;;) {
      while (!queue_.empty()) {
        delivery d = std::move(queue_.front());
        queue_.pop_front();
        if (d.origin == origin && d.agent == agent && d.active == active)
          return d;
      }
      if (done_
          || !cv_.wait_until(lock, until, [this] {
               return !queue_.empty() || done_;
             }))
        return std::nullopt;
    }
  }

  /// What `probe_broker` measured.
  struct probe_result {
    latency_summary delivery; ///< publish -> delivered back to the tap
    latency_summary confirm;  ///< publish -> publisher confirm
    std::uint64_t lost = 0;   ///< neither within 2 s
    std::size_t body_bytes = 0;
  };

  /// The broker alone: publishes `n` persistent messages of the servers'
  /// size, one at a time, to the exchange (so to both servers' durable
  /// queues too: they drop them, as they are not JSON) and times their
  /// delivery back to the tap and their publisher confirm.
  probe_result probe_broker(std::uint64_t n) {
    probe_result r;
    std::vector<double> delivery, confirm;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      r.body_bytes = body_bytes_ != 0 ? body_bytes_ : 512;
    }
    for (std::uint64_t i = 1; i <= n; ++i) {
      std::string body = std::string(probe_prefix) + std::to_string(i) + " ";
      body.resize(std::max(body.size(), r.body_bytes), 'x');
      const auto t0 = clock::now();
      publish(body);
      const std::uint64_t tag = ++published_;
      std::unique_lock<std::mutex> lock{mtx_};
      const bool ok = cv_.wait_for(lock, std::chrono::seconds(2), [&] {
        return done_ || (probe_seen_ >= i && confirmed_ >= tag);
      });
      if (!ok || done_ || nacked_) {
        ++r.lost;
        if (done_)
          break;
        continue;
      }
      delivery.push_back(ms_between(t0, probe_at_));
      confirm.push_back(ms_between(t0, confirm_at_));
    }
    r.delivery = summarize(delivery);
    r.confirm = summarize(confirm);
    return r;
  }

  /// Drops what was received so far.
  void clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.clear();
  }

private:
  struct endpoint {
    std::string user = "guest", pass = "guest", host = "127.0.0.1";
    std::string port = "5672", vhost = "/";
  };

  static std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(
          std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    return out;
  }

  /// amqp://user:pass@host:port/vhost (TLS is not supported).
  static endpoint parse_url(const std::string& url) {
    const std::string scheme = "amqp://";
    if (url.rfind(scheme, 0) != 0)
      throw std::runtime_error("the tap speaks plain amqp:// only");
    endpoint e;
    std::string rest = url.substr(scheme.size());
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      if (slash + 1 < rest.size())
        e.vhost = unescape(rest.substr(slash + 1));
      rest.resize(slash);
    }
    if (auto at = rest.rfind('@'); at != std::string::npos) {
      const std::string cred = rest.substr(0, at);
      rest = rest.substr(at + 1);
      const auto colon = cred.find(':');
      e.user = unescape(cred.substr(0, colon));
      e.pass = colon == std::string::npos ? ""
                                          : unescape(cred.substr(colon + 1));
    }
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
      e.port = rest.substr(colon + 1);
      rest.resize(colon);
    }
    if (!rest.empty())
      e.host = rest;
    return e;
  }

  void connect(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0)
      throw std::runtime_error("tap: cannot resolve " + host);
    for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
      fd_ = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd_ >= 0 && ::connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    }
    ::freeaddrinfo(res);
    if (fd_ < 0)
      throw std::runtime_error("tap: cannot connect to " + host + ":"
                               + port);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{5, 0}; // for the handshake; the reader blocks
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  // Wire encoding (big-endian).
  static void put8(std::string& s, std::uint8_t v) {
    s.push_back(static_cast<char>(v));
  }
  static void put16(std::string& s, std::uint16_t v) {
    put8(s, static_cast<std::uint8_t>(v >> 8));
    put8(s, static_cast<std::uint8_t>(v));
  }
  static void put32(std::string& s, std::uint32_t v) {
    put16(s, static_cast<std::uint16_t>(v >> 16));
    put16(s, static_cast<std::uint16_t>(v));
  }
  static void putshort(std::string& s, std::string_view v) {
    put8(s, static_cast<std::uint8_t>(v.size()));
    s.append(v);
  }
  static void putlong(std::string& s, std::string_view v) {
    put32(s, static_cast<std::uint32_t>(v.size()));
    s.append(v);
  }

  void send_method(std::uint16_t channel, std::uint16_t cls,
                   std::uint16_t method, const std::string& args) {
    std::string f;
    put8(f, 1);
    put16(f, channel);
    put32(f, static_cast<std::uint32_t>(4 + args.size()));
    put16(f, cls);
    put16(f, method);
    f += args;
    put8(f, 0xCE);
    std::size_t sent = 0;
    while (sent < f.size()) {
      const auto n =
        ::send(fd_, f.data() + sent, f.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("tap: send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  /// Reads one frame; false when the connection ended.
  bool read_frame(std::uint8_t& type, std::string& payload) {
    while (!(in_.size() >= 7 && in_.size() >= 8 + size_of_first())) {
      char buf[16384];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return false;
      in_.append(buf, static_cast<std::size_t>(n));
    }
    const std::size_t size = size_of_first();
    type = static_cast<std::uint8_t>(in_[0]);
    payload.assign(in_, 7, size);
    in_.erase(0, 8 + size);
    return true;
  }

  std::size_t size_of_first() const {
    std::size_t n = 0;
    for (int i = 3; i < 7; ++i)
      n = (n << 8) | static_cast<std::uint8_t>(in_[i]);
    return n;
  }

  static std::uint32_t get(const std::string& s, std::size_t at, int bytes) {
    std::uint32_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v = (v << 8) | static_cast<std::uint8_t>(s.at(at + i));
    return v;
  }

  /// Reads frames until the method `cls.method`; throws on a close or an
  /// ended connection. Returns its arguments.
  std::string expect(std::uint16_t cls, std::uint16_t method) {
    std::uint8_t type = 0;
    std::string p;
    for (;;) {
      if (!read_frame(type, p))
        throw std::runtime_error("tap: the broker closed the connection");
      if (type != 1 || p.size() < 4)
        continue;
      const auto c = get(p, 0, 2), m = get(p, 2, 2);
      if (c == cls && m == method)
        return p.substr(4);
      if ((c == 10 && m == 50) || (c == 20 && m == 40))
        throw std::runtime_error("tap: the broker refused: "
                                 + p.substr(7, get(p, 6, 1)));
    }
  }

  void handshake(const endpoint& e, const std::string& exchange) {
    const char header[] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
    if (::send(fd_, header, sizeof header, MSG_NOSIGNAL) != 8)
      throw std::runtime_error("tap: send failed");
    expect(10, 10); // connection.start
    std::string a;
    put32(a, 0); // client properties
    putshort(a, "PLAIN");
    putlong(a, std::string(1, '\0') + e.user + '\0' + e.pass);
    putshort(a, "en_US");
    send_method(0, 10, 11, a);
    const std::string tune = expect(10, 30);
    std::uint32_t frame_max = get(tune, 2, 4);
    if (frame_max == 0 || frame_max > 131072)
      frame_max = 131072;
    a.clear();
    put16(a, static_cast<std::uint16_t>(get(tune, 0, 2)));
    put32(a, frame_max);
    put16(a, 0); // no heartbeats
    send_method(0, 10, 31, a);
    a.clear();
    putshort(a, e.vhost);
    putshort(a, "");
    put8(a, 0);
    send_method(0, 10, 40, a);
    expect(10, 41);
    a.clear();
    putshort(a, "");
    send_method(1, 20, 10, a);
    expect(20, 11);
    a.clear();
    put16(a, 0);
    putshort(a, ""); // server-named
    put8(a, 4 | 8);  // exclusive, auto-delete
    put32(a, 0);
    send_method(1, 50, 10, a);
    const std::string ok = expect(50, 11);
    const std::string queue = ok.substr(1, get(ok, 0, 1));
    a.clear();
    put16(a, 0);
    putshort(a, queue);
    putshort(a, exchange);
    putshort(a, "");
    put8(a, 0);
    put32(a, 0);
    send_method(1, 50, 20, a);
    expect(50, 21);
    a.clear();
    put16(a, 0);
    putshort(a, queue);
    putshort(a, "");
    put8(a, 2); // no-ack
    put32(a, 0);
    send_method(1, 60, 20, a);
    expect(60, 21);
    a.clear();
    put8(a, 0);
    send_method(1, 85, 10, a); // confirm.select, for the broker probe
    expect(85, 11);
    timeval none{0, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  }

  void read_loop() {
    std::uint8_t type = 0;
    std::string p, body;
    std::uint64_t remaining = 0;
    bool in_message = false;
    while (read_frame(type, p)) {
      if (type == 1 && p.size() >= 4) {
        const auto c = get(p, 0, 2), m = get(p, 2, 2);
        if ((c == 10 && (m == 50 || m == 51)) || (c == 20 && m == 40))
          break; // closed
        if (c == 60 && (m == 80 || m == 120) && p.size() >= 13) {
          // basic.ack / basic.nack of a probe we published
          const std::uint64_t tag =
            (std::uint64_t{get(p, 4, 4)} << 32) | get(p, 8, 4);
          std::lock_guard<std::mutex> guard{mtx_};
          confirmed_ = std::max(confirmed_, tag);
          nacked_ = nacked_ || m == 120;
          confirm_at_ = clock::now();
          cv_.notify_all();
        }
        in_message = c == 60 && m == 60; // basic.deliver
        body.clear();
      } else if (type == 2 && in_message && p.size() >= 12) {
        remaining = (std::uint64_t{get(p, 4, 4)} << 32) | get(p, 8, 4);
        if (remaining == 0)
          in_message = false;
      } else if (type == 3 && in_message) {
        body += p;
        remaining -= std::min<std::uint64_t>(remaining, p.size());
        if (remaining == 0) {
          in_message = false;
          received(body);
        }
      }
    }
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
    cv_.notify_all();
  }

  void received(const std::string& body) {
    const auto at = clock::now();
    if (body.rfind(probe_prefix, 0) == 0) {
      std::lock_guard<std::mutex> guard{mtx_};
      probe_seen_ = std::strtoull(body.c_str() + probe_prefix.size(),
                                  nullptr, 10);
      probe_at_ = at;
      cv_.notify_all();
      return;
    }
    delivery d;
    d.at = at;
    d.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    rapidjson::Document j;
    j.Parse(body.c_str(), body.size());
    if (j.HasParseError() || !j.IsObject() || !j.HasMember("Type")
        || !j["Type"].IsString()
        || std::string_view(j["Type"].GetString()) != "Blackout"
        || !j.HasMember("Origin") || !j["Origin"].IsString()
        || !j.HasMember("AgentId") || !j["AgentId"].IsInt64()
        || !j.HasMember("Blackout") || !j["Blackout"].IsObject())
      return;
    const auto& b = j["Blackout"];
    if (!b.HasMember("Active") || !b["Active"].IsBool())
      return;
    body_bytes_ = body.size();
    d.origin = j["Origin"].GetString();
    d.agent = j["AgentId"].GetInt64();
    d.active = b["Active"].GetBool();
    if (b.HasMember("Version") && b["Version"].IsObject()
        && b["Version"].HasMember("Wall") && b["Version"]["Wall"].IsInt64())
      d.version_ms = b["Version"]["Wall"].GetInt64();
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.push_back(std::move(d));
    cv_.notify_all();
  }

  /// Publishes `body` to the exchange, persistent, as the servers do.
  void publish(const std::string& body) {
    std::string f;
    auto frame = [&](std::uint8_t type, const std::string& payload) {
      put8(f, type);
      put16(f, 1);
      put32(f, static_cast<std::uint32_t>(payload.size()));
      f += payload;
      put8(f, 0xCE);
    };
    std::string m;
    put16(m, 60);
    put16(m, 40); // basic.publish
    put16(m, 0);
    putshort(m, exchange_);
    putshort(m, "");
    put8(m, 0);
    frame(1, m);
    std::string h;
    put16(h, 60);
    put16(h, 0);
    put32(h, 0);
    put32(h, static_cast<std::uint32_t>(body.size()));
    put16(h, 0x1000); // delivery-mode present
    put8(h, 2);       // persistent
    frame(2, h);
    frame(3, body);
    std::size_t sent = 0;
    while (sent < f.size()) {
      const auto n =
        ::send(fd_, f.data() + sent, f.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("tap: send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  static constexpr std::string_view probe_prefix = "cluster-bench-probe ";

  int fd_ = -1;
  std::string exchange_;
  std::string in_;
  std::thread reader_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<delivery> queue_;
  bool done_ = false;
  std::size_t body_bytes_ = 0;  ///< size of the last Blackout message
  std::uint64_t published_ = 0; ///< probes published (confirm tags)
  std::uint64_t confirmed_ = 0; ///< highest confirmed tag
  bool nacked_ = false;
  clock::time_point confirm_at_;
  std::uint64_t probe_seen_ = 0; ///< last probe delivered back
  clock::time_point probe_at_;
};

// -- servers -----------------------------------------------------------------

/// One clustered server with its own config file.
struct cluster_server {
  std::string name; ///< "A" or "B"
  std::string id;   ///< cluster.server_id
  std::unique_ptr<server_process> proc;
  double start_ms = 0;
};

std::unique_ptr<cluster_server>
start_server(const std::string& name, const std::string& id,
             const std::string& exchange, const broker& b) {
  auto s = std::make_unique<cluster_server>();
  s->name = name;
  s->id = id;
  const std::string dir = rapi::test::make_temp_dir("rapi-bench-cfg");
  const std::string cfg = dir + "/recording-api.json";
  write_text_file(cfg, "{\"cluster\":{\"enabled\":true,\"server_id\":\"" + id
                         + "\",\"brokers\":[\"" + b.url()
                         + "\"],\"exchange\":\"" + exchange + "\"}}");
  server_options so;
  so.extra_args = {"--config", cfg};
  const auto t0 = clock::now();
  try {
    s->proc = std::make_unique<server_process>(so);
  } catch (...) {
    rapi::test::remove_dir(dir);
    throw;
  }
  s->start_ms = ms_since(t0);
  rapi::test::remove_dir(dir); // read at start-up only
  return s;
}

/// Waits until `GET /admin/cluster` shows both broker connections up and
/// the first sync done; throws after `deadline`.
void wait_connected(const cluster_server& s,
                    std::chrono::milliseconds deadline) {
  http_client admin = s.proc->admin();
  std::string last;
  const bool ok = rapi::test::poll_until(
    [&] {
      try {
        last = admin.get("/admin/cluster").body;
      } catch (const std::exception& e) {
        last = e.what();
        admin.close();
        return false;
      }
      return last.find("\"Publisher\":\"connected\"") != std::string::npos
             && last.find("\"Consumer\":\"connected\"") != std::string::npos
             && last.find("\"Synced\":true") != std::string::npos;
    },
    deadline);
  if (!ok)
    throw std::runtime_error("server " + s.name
                             + " did not connect to the broker: " + last
                             + "\n" + tail(s.proc->output()));
}

// -- machine load ------------------------------------------------------------

/// Jiffies of all CPUs from /proc/stat: busy (not idle / iowait) and total.
struct cpu_times {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};

cpu_times read_cpu() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  cpu_times t;
  std::uint64_t v = 0, idle = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {
    t.total += v;
    if (i == 3 || i == 4)
      idle += v;
  }
  t.busy = t.total - idle;
  return t;
}

/// Jiffies process `pid` has run (user + system; 0 when unreadable).
std::uint64_t process_jiffies(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos)
    return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string f;
  std::uint64_t sum = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15)
      sum += std::strtoull(f.c_str(), nullptr, 10);
  return sum;
}

/// The 1-minute load average.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = -1;
  in >> v;
  return v;
}

// -- one direction -----------------------------------------------------------

const std::string start_path = "/api/Blackout/StartForAgent";
const std::string stop_path = "/api/Blackout/StopForAgent";

std::string agent_body(std::uint64_t id) {
  return "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + std::to_string(id)
         + "\"}";
}

std::string agent_target(std::uint64_t id) {
  return "/api/Agent?agentIdentifier=Id&value=" + std::to_string(id);
}

/// `Blackout.Active` of a `GET /api/Agent` answer; nullopt when the answer
/// is not a 200 with that field.
std::optional<bool> blackout_active(const http_response& r) {
  if (r.status != 200)
    return std::nullopt;
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (d.HasParseError() || !d.IsObject())
    return std::nullopt;
  auto b = d.FindMember("Blackout");
  if (b == d.MemberEnd() || !b->value.IsObject())
    return std::nullopt;
  auto a = b->value.FindMember("Active");
  if (a == b->value.MemberEnd() || !a->value.IsBool())
    return std::nullopt;
  return a->value.GetBool();
}

/// One slow sample and where its time went (tap times; -1 without).
struct slow_sample {
  std::uint64_t index = 0;
  std::uint64_t agent = 0;
  bool start = false;
  double latency_ms = 0;
  double to_broker_ms = -1;
  double from_broker_ms = -1;
};

/// Everything measured in one direction.
struct direction_result {
  std::string name; ///< "A->B"
  std::uint64_t samples = 0;
  std::uint64_t timeouts = 0;    ///< not seen within the deadline
  std::uint64_t late = 0;        ///< of those, seen later on
  std::uint64_t errors = 0;      ///< change or GET not a 200 / broken
  std::string first_error;
  std::uint64_t polls = 0;       ///< GETs on the observer, measured samples
  latency_summary latency;       ///< 200 on the source -> seen (ms)
  latency_summary start_latency; ///< StartForAgent samples only
  latency_summary stop_latency;  ///< StopForAgent samples only
  latency_summary change;        ///< the change request itself
  latency_summary floor;         ///< one GET on the observer
  double seconds = 0;
  double cpu_busy = -1;   ///< share of all CPUs busy meanwhile (0..1)
  double cpu_servers = -1; ///< of all CPUs, the bench and both servers
  // The tap's split of each sample (when the tap runs).
  bool tapped = false;
  std::uint64_t tap_missing = 0; ///< samples the tap never saw
  latency_summary to_broker;     ///< 200 on the source -> tap delivery
  latency_summary from_broker;   ///< tap delivery -> seen on the observer
  latency_summary stamp_to_tap;  ///< Version.Wall -> tap (whole ms)
  std::uint64_t slow = 0;        ///< samples over the target
  std::uint64_t slow_before_broker = 0; ///< of those, mostly before it
  std::vector<slow_sample> worst; ///< the slowest few
};

/// The median-bearing summary of `n` back-to-back GETs of `target`.
latency_summary get_floor(http_client& c, const std::string& target,
                          std::uint64_t n) {
  std::vector<double> ms;
  ms.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t0 = clock::now();
    auto r = c.get(target);
    if (r.status == 200)
      ms.push_back(ms_since(t0));
  }
  return summarize(ms);
}

void note_error(direction_result& res, const std::string& what) {
  ++res.errors;
  if (res.first_error.empty())
    res.first_error = what.substr(0, 300);
}

constexpr double target_p99_ms = 10.0;
constexpr std::size_t worst_kept = 8;

/// Changes blackouts on `src` and watches them arrive on `dst`. `active`
/// holds every agent's current state (index = agent id) and is updated.
/// `tap` (may be null) splits each sample's time at the broker; `csv`
/// (may be null) gets a line per measured sample.
direction_result run_direction(const options& o, cluster_server& src,
                               cluster_server& dst, std::vector<bool>& active,
                               amqp_tap* tap, std::string* csv) {
  direction_result res;
  res.name = src.name + "->" + dst.name;
  res.tapped = tap != nullptr;
  http_client change = src.proc->api();
  http_client watch = dst.proc->api();
  const auto deadline = std::chrono::milliseconds(o.deadline_ms);

  res.floor = get_floor(watch, agent_target(1), o.floor_gets);
  std::printf("[%s] floor: one GET on %s p50 %.3f ms; %" PRIu64
              " warm-up + %" PRIu64 " samples...\n",
              res.name.c_str(), dst.name.c_str(), res.floor.p50, o.warmup,
              o.samples);
  std::fflush(stdout);

  std::vector<std::string> bodies(o.agents + 1), targets(o.agents + 1);
  for (std::uint64_t id = 1; id <= o.agents; ++id) {
    bodies[id] = agent_body(id);
    targets[id] = agent_target(id);
  }
  std::vector<double> all, starts, stops, change_ms;
  std::vector<double> to_broker, from_broker, stamp_to_tap;
  std::vector<slow_sample> slow;
  all.reserve(o.samples);
  if (tap != nullptr)
    tap->clear();
  const std::uint64_t total = o.warmup + o.samples;
  const cpu_times cpu0 = read_cpu();
  const std::uint64_t own0 = process_jiffies(::getpid())
                             + process_jiffies(src.proc->pid())
                             + process_jiffies(dst.proc->pid());
  const auto began = clock::now();
  std::uint64_t next_report = o.warmup + o.samples / 4;
  for (std::uint64_t i = 0; i < total; ++i) {
    const bool measured = i >= o.warmup;
    const std::uint64_t id = 1 + i % o.agents;
    const bool want = !active[id];
    if (o.gap_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(o.gap_ms));
    http_response r;
    const auto t0 = clock::now();
    try {
      r = change.post(want ? start_path : stop_path, bodies[id]);
    } catch (const std::exception& e) {
      note_error(res, std::string("change: ") + e.what());
      change.close();
      continue;
    }
    const auto acked = clock::now();
    if (r.status != 200) {
      note_error(res, "change: " + std::to_string(r.status) + " "
                        + r.body);
      continue;
    }
    active[id] = want;
    if (measured)
      change_ms.push_back(ms_between(t0, acked));

    // Poll the observer until it shows the new state.
    std::optional<clock::time_point> seen;
    std::uint64_t polls = 0;
    bool broken = false;
    for (;;) {
      http_response g;
      try {
        g = watch.get(targets[id]);
      } catch (const std::exception& e) {
        note_error(res, std::string("watch: ") + e.what());
        watch.close();
        broken = true;
        break;
      }
      const auto now = clock::now();
      ++polls;
      const auto state = blackout_active(g);
      if (!state) {
        note_error(res, "watch: " + std::to_string(g.status) + " " + g.body);
        broken = true;
        break;
      }
      if (*state == want) {
        seen = now;
        break;
      }
      if (now - acked >= deadline)
        break;
      if (o.poll_us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(o.poll_us));
    }
    if (broken)
      continue;
    if (!seen) {
      // Wait (unmeasured) for it to arrive before the next sample.
      if (measured)
        ++res.timeouts;
      const bool later = rapi::test::poll_until(
        [&] {
          try {
            return blackout_active(watch.get(targets[id])) == want;
          } catch (const std::exception&) {
            watch.close();
            return false;
          }
        },
        std::chrono::seconds(10));
      if (measured && later)
        ++res.late;
      std::printf("[%s] sample %" PRIu64 ": agent %" PRIu64
                  " not seen within %" PRIu64 " ms (%s)\n",
                  res.name.c_str(), i, id, o.deadline_ms,
                  later ? "arrived later" : "not within 10 s more");
      if (tap != nullptr)
        tap->wait_for(src.id, static_cast<std::int64_t>(id), want,
                      std::chrono::milliseconds(100));
      continue;
    }
    // The tap got it at about the moment the observer's consumer did.
    std::optional<amqp_tap::delivery> d;
    if (tap != nullptr)
      d = tap->wait_for(src.id, static_cast<std::int64_t>(id), want,
                        std::chrono::seconds(1));
    if (!measured)
      continue;
    const double ms = ms_between(acked, *seen);
    res.polls += polls;
    all.push_back(ms);
    (want ? starts : stops).push_back(ms);
    slow_sample s;
    s.index = i - o.warmup;
    s.agent = id;
    s.start = want;
    s.latency_ms = ms;
    if (d) {
      s.to_broker_ms = ms_between(acked, d->at);
      s.from_broker_ms = ms_between(d->at, *seen);
      to_broker.push_back(s.to_broker_ms);
      from_broker.push_back(s.from_broker_ms);
      stamp_to_tap.push_back(static_cast<double>(d->wall_ms - d->version_ms));
    } else if (tap != nullptr) {
      ++res.tap_missing;
    }
    if (csv != nullptr) {
      auto ns = [](clock::time_point t) {
        return std::to_string(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
            t.time_since_epoch())
            .count());
      };
      char tail_text[96];
      std::snprintf(tail_text, sizeof tail_text, ",%.4f,%.4f,%.4f\n", ms,
                    s.to_broker_ms, s.from_broker_ms);
      *csv += res.name + "," + std::to_string(s.index) + ","
              + std::to_string(id) + (want ? ",start," : ",stop,")
              + ns(acked) + "," + (d ? ns(d->at) : std::string()) + ","
              + ns(*seen) + tail_text;
    }
    if (ms > target_p99_ms) {
      ++res.slow;
      if (d && s.to_broker_ms > s.from_broker_ms)
        ++res.slow_before_broker;
    }
    slow.push_back(s);
    std::sort(slow.begin(), slow.end(), [](auto& x, auto& y) {
      return x.latency_ms > y.latency_ms;
    });
    if (slow.size() > worst_kept)
      slow.pop_back();
    if (i + 1 == next_report && i + 1 < total) {
      std::printf("[%s] %" PRIu64 "/%" PRIu64 "\n", res.name.c_str(),
                  i + 1 - o.warmup, o.samples);
      std::fflush(stdout);
      next_report += o.samples / 4;
    }
  }
  res.seconds = ms_since(began) / 1000.0;
  const cpu_times cpu1 = read_cpu();
  const std::uint64_t own1 = process_jiffies(::getpid())
                             + process_jiffies(src.proc->pid())
                             + process_jiffies(dst.proc->pid());
  if (cpu1.total > cpu0.total) {
    const double span = static_cast<double>(cpu1.total - cpu0.total);
    res.cpu_busy = static_cast<double>(cpu1.busy - cpu0.busy) / span;
    res.cpu_servers = static_cast<double>(own1 - own0) / span;
  }
  res.samples = all.size();
  res.latency = summarize(all);
  res.start_latency = summarize(starts);
  res.stop_latency = summarize(stops);
  res.change = summarize(change_ms);
  res.to_broker = summarize(to_broker);
  res.from_broker = summarize(from_broker);
  res.stamp_to_tap = summarize(stamp_to_tap);
  res.worst = std::move(slow);
  std::printf("[%s] p50 %.2f ms, p99 %.2f ms, max %.1f ms, %" PRIu64
              " timeouts, %" PRIu64 " errors (%.1f s; CPUs %.0f%% busy, "
              "%.0f%% bench + servers)\n",
              res.name.c_str(), res.latency.p50, res.latency.p99,
              res.latency.max, res.timeouts, res.errors, res.seconds,
              100 * res.cpu_busy, 100 * res.cpu_servers);
  if (tap != nullptr)
    std::printf("[%s] split at the broker: 200 -> delivery p50 %.2f / p99 "
                "%.2f ms, delivery -> seen p50 %.2f / p99 %.2f ms;\n"
                "[%s] %" PRIu64 " samples over %.0f ms, %" PRIu64
                " of them mostly before the broker\n",
                res.name.c_str(), res.to_broker.p50, res.to_broker.p99,
                res.from_broker.p50, res.from_broker.p99, res.name.c_str(),
                res.slow, target_p99_ms, res.slow_before_broker);
  if (!res.first_error.empty())
    std::printf("[%s] first error: %s\n", res.name.c_str(),
                res.first_error.c_str());
  std::fflush(stdout);
  return res;
}

/// Toggles agent 1 on `src` until `dst` shows it (a generous deadline:
/// the first messages may wait for connections); throws if it never does.
void probe(cluster_server& src, cluster_server& dst,
           std::vector<bool>& active) {
  http_client change = src.proc->api();
  http_client watch = dst.proc->api();
  const bool want = !active[1];
  auto r = change.post(want ? start_path : stop_path, agent_body(1));
  if (r.status != 200)
    throw std::runtime_error("probe change on " + src.name + " answered "
                             + std::to_string(r.status) + ": " + r.body);
  active[1] = want;
  const bool ok = rapi::test::poll_until(
    [&] { return blackout_active(watch.get(agent_target(1))) == want; },
    std::chrono::seconds(30));
  if (!ok)
    throw std::runtime_error("a blackout changed on " + src.name
                             + " never showed on " + dst.name + "\n"
                             + tail(dst.proc->output()));
}

// -- output ------------------------------------------------------------------

void write_direction(json_writer& w, const direction_result& d) {
  w.StartObject();
  w.Key("direction");
  w.String(d.name.c_str());
  w.Key("samples");
  w.Uint64(d.samples);
  w.Key("timeouts");
  w.Uint64(d.timeouts);
  w.Key("timeouts_seen_later");
  w.Uint64(d.late);
  w.Key("errors");
  w.Uint64(d.errors);
  w.Key("first_error");
  w.String(d.first_error.c_str());
  w.Key("seconds");
  w.Double(d.seconds);
  w.Key("cpu_busy");
  w.Double(d.cpu_busy);
  w.Key("cpu_bench_and_servers");
  w.Double(d.cpu_servers);
  w.Key("gets_per_sample");
  w.Double(d.samples ? static_cast<double>(d.polls)
                         / static_cast<double>(d.samples)
                     : 0);
  w.Key("latency");
  write_summary(w, d.latency);
  w.Key("start_latency");
  write_summary(w, d.start_latency);
  w.Key("stop_latency");
  write_summary(w, d.stop_latency);
  w.Key("change_request");
  write_summary(w, d.change);
  w.Key("floor_one_get");
  write_summary(w, d.floor);
  w.Key("meets_target");
  w.Bool(d.timeouts == 0 && d.samples > 0
         && d.latency.p99 <= target_p99_ms);
  w.Key("samples_over_target");
  w.Uint64(d.slow);
  if (d.tapped) {
    w.Key("tap");
    w.StartObject();
    w.Key("missing");
    w.Uint64(d.tap_missing);
    w.Key("ack_to_delivery");
    write_summary(w, d.to_broker);
    w.Key("delivery_to_seen");
    write_summary(w, d.from_broker);
    w.Key("stamp_to_delivery_whole_ms");
    write_summary(w, d.stamp_to_tap);
    w.Key("over_target_mostly_before_broker");
    w.Uint64(d.slow_before_broker);
    w.EndObject();
  }
  w.Key("worst");
  w.StartArray();
  for (auto& x : d.worst) {
    w.StartObject();
    w.Key("sample");
    w.Uint64(x.index);
    w.Key("agent");
    w.Uint64(x.agent);
    w.Key("change");
    w.String(x.start ? "start" : "stop");
    w.Key("latency_ms");
    w.Double(x.latency_ms);
    if (d.tapped) {
      w.Key("ack_to_delivery_ms");
      w.Double(x.to_broker_ms);
      w.Key("delivery_to_seen_ms");
      w.Double(x.from_broker_ms);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

struct run_info {
  std::string broker_where;
  bool broker_private = false;
  std::string broker_binding;
  double broker_start_ms = 0;
  double server_start_ms[2] = {0, 0};
  double connect_ms = 0;
  bool tapped = false;
  amqp_tap::probe_result probe;
  double load_at_start = -1;
  int exit_codes[2] = {-1, -1};
};

std::string to_json(const options& o, const run_info& info,
                    const std::vector<direction_result>& dirs) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  begin_results(w, "cluster");
  w.Key("params");
  w.StartObject();
  w.Key("quick");
  w.Bool(o.quick);
  w.Key("samples");
  w.Uint64(o.samples);
  w.Key("warmup");
  w.Uint64(o.warmup);
  w.Key("agents");
  w.Uint64(o.agents);
  w.Key("deadline_ms");
  w.Uint64(o.deadline_ms);
  w.Key("floor_gets");
  w.Uint64(o.floor_gets);
  w.Key("gap_ms");
  w.Uint64(o.gap_ms);
  w.Key("poll_us");
  w.Uint64(o.poll_us);
  w.Key("broker_probes");
  w.Uint64(o.probes);
  w.Key("tap");
  w.Bool(info.tapped);
  w.EndObject();
  w.Key("broker");
  w.StartObject();
  w.Key("url");
  w.String(info.broker_where.c_str());
  w.Key("private");
  w.Bool(info.broker_private);
  w.Key("scheduler_binding");
  w.String(info.broker_binding.c_str());
  w.Key("start_ms");
  w.Double(info.broker_start_ms);
  w.EndObject();
  w.Key("server_start_ms");
  w.StartArray();
  w.Double(info.server_start_ms[0]);
  w.Double(info.server_start_ms[1]);
  w.EndArray();
  w.Key("cluster_connect_ms");
  w.Double(info.connect_ms);
  w.Key("load_average_at_start");
  w.Double(info.load_at_start);
  if (info.tapped) {
    w.Key("broker_probe");
    w.StartObject();
    w.Key("body_bytes");
    w.Uint64(info.probe.body_bytes);
    w.Key("lost");
    w.Uint64(info.probe.lost);
    w.Key("publish_to_delivery");
    write_summary(w, info.probe.delivery);
    w.Key("publish_to_confirm");
    write_summary(w, info.probe.confirm);
    w.EndObject();
  }
  w.Key("target_p99_ms");
  w.Double(target_p99_ms);
  w.Key("directions");
  w.StartArray();
  for (auto& d : dirs)
    write_direction(w, d);
  w.EndArray();
  w.Key("exit_codes");
  w.StartArray();
  w.Int(info.exit_codes[0]);
  w.Int(info.exit_codes[1]);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void print_table(const options& o, const run_info& info,
                 const std::vector<direction_result>& dirs) {
  std::printf("\ncluster-bench: %" PRIu64 " samples per direction, %" PRIu64
              " agents, gap %" PRIu64 " ms, poll pause %" PRIu64
              " us\n  broker %s (%s%s%s)\n",
              o.samples, o.agents, o.gap_ms, o.poll_us,
              info.broker_where.c_str(),
              info.broker_private ? "private" : "RAPI_AMQP_URL",
              info.broker_private ? ", schedulers " : "",
              info.broker_binding.c_str());
  std::printf("  %-5s %6s %7s %7s %7s %7s %7s %4s %6s\n", "dir", "count",
              "p50 ms", "p90", "p99", "p99.9", "max", "t/o", "floor");
  for (auto& d : dirs)
    std::printf("  %-5s %6" PRIu64 " %7.2f %7.2f %7.2f %7.2f %7.1f %4" PRIu64
                " %6.3f\n",
                d.name.c_str(), d.samples, d.latency.p50, d.latency.p90,
                d.latency.p99, d.latency.p999, d.latency.max, d.timeouts,
                d.floor.p50);
  if (info.tapped) {
    std::printf("  split at the broker (tap), p50 / p99 / max ms:\n");
    for (auto& d : dirs)
      std::printf("  %-5s 200->delivery %5.2f / %6.2f / %6.1f   "
                  "delivery->seen %5.2f / %6.2f / %6.1f\n",
                  d.name.c_str(), d.to_broker.p50, d.to_broker.p99,
                  d.to_broker.max, d.from_broker.p50, d.from_broker.p99,
                  d.from_broker.max);
    std::printf("  broker alone: publish->delivery %5.2f / %6.2f / %6.1f"
                "   publish->confirm %5.2f / %6.2f / %6.1f\n",
                info.probe.delivery.p50, info.probe.delivery.p99,
                info.probe.delivery.max, info.probe.confirm.p50,
                info.probe.confirm.p99, info.probe.confirm.max);
  }
  bool met = true;
  for (auto& d : dirs)
    met = met && d.timeouts == 0 && d.latency.p99 <= target_p99_ms;
  std::printf("  floor = median of one GET on the observer; target p99 <= "
              "%.0f ms: %s\n\n",
              target_p99_ms, met ? "met" : "NOT met");
}

int run(const options& o) {
  std::printf("cluster-bench: server %s\n",
              rapi::test::binary_path().c_str());
  std::fflush(stdout);
  run_info info;
  info.load_at_start = load_average();
  broker b(o.unbound_broker);
  info.broker_where = b.where();
  info.broker_private = b.owned();
  info.broker_binding = b.binding();
  info.broker_start_ms = b.start_ms();
  std::printf("[broker] %s%s\n", info.broker_where.c_str(),
              b.owned() ? "" : " (RAPI_AMQP_URL)");

  const std::string tag = std::to_string(::getpid());
  const std::string exchange = "bench-" + tag;
  auto a = start_server("A", "bench-a-" + tag, exchange, b);
  auto bs = start_server("B", "bench-b-" + tag, exchange, b);
  info.server_start_ms[0] = a->start_ms;
  info.server_start_ms[1] = bs->start_ms;
  for (auto* s : {a.get(), bs.get()}) {
    http_client admin = s->proc->admin();
    provision_range(admin, 1, o.agents + 1);
  }
  const auto t0 = clock::now();
  wait_connected(*a, std::chrono::seconds(60));
  wait_connected(*bs, std::chrono::seconds(60));
  std::vector<bool> active(o.agents + 1, false);
  probe(*a, *bs, active);
  probe(*bs, *a, active);
  info.connect_ms = ms_since(t0);
  std::printf("[cluster] A (pid %d) and B (pid %d) connected, %" PRIu64
              " agents each (%.0f ms)\n",
              static_cast<int>(a->proc->pid()),
              static_cast<int>(bs->proc->pid()), o.agents, info.connect_ms);
  std::fflush(stdout);

  std::unique_ptr<amqp_tap> tap;
  if (o.tap) {
    try {
      tap = std::make_unique<amqp_tap>(b.url(), exchange);
      info.tapped = true;
    } catch (const std::exception& e) {
      std::printf("[tap] not used: %s\n", e.what());
    }
  }

  std::string csv =
    "direction,sample,agent,change,acked_ns,delivered_ns,seen_ns,"
    "latency_ms,ack_to_delivery_ms,delivery_to_seen_ms\n";
  std::string* csv_out = o.samples_out.empty() ? nullptr : &csv;
  std::vector<direction_result> dirs;
  dirs.push_back(run_direction(o, *a, *bs, active, tap.get(), csv_out));
  dirs.push_back(run_direction(o, *bs, *a, active, tap.get(), csv_out));
  if (csv_out != nullptr) {
    csv.pop_back(); // write_text_file adds the last newline
    write_text_file(o.samples_out, csv);
  }
  if (tap && o.probes > 0) {
    info.probe = tap->probe_broker(o.probes);
    std::printf("[broker] alone, %" PRIu64 " x %zu bytes persistent: "
                "publish -> delivery p50 %.2f / p99 %.2f ms, "
                "-> confirm p50 %.2f / p99 %.2f ms\n",
                o.probes, info.probe.body_bytes, info.probe.delivery.p50,
                info.probe.delivery.p99, info.probe.confirm.p50,
                info.probe.confirm.p99);
    std::fflush(stdout);
  }
  tap.reset();

  info.exit_codes[0] = a->proc->stop(SIGTERM, std::chrono::seconds(30));
  info.exit_codes[1] = bs->proc->stop(SIGTERM, std::chrono::seconds(30));
  a.reset();
  bs.reset();
  b.stop();

  print_table(o, info, dirs);
  write_text_file(o.out, to_json(o, info, dirs));
  std::printf("results: %s\n", o.out.c_str());
  bool wrong = info.exit_codes[0] != 0 || info.exit_codes[1] != 0;
  for (auto& d : dirs)
    wrong = wrong || d.errors != 0 || d.late != d.timeouts;
  if (wrong)
    std::printf("** errors, lost changes or a bad exit (see above) **\n");
  return wrong ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  return rapi::bench::bench_main<options>(argc, argv, "cluster-bench", usage_text,
                                          parse_options, run);
}
