/// baseline-server: the fastest thing RESTinio can do on this machine, as
/// the same-run reference for recording-bench (issue "Performance", part 2).
///
/// Two RESTinio listeners (api and admin, like the real server) on one
/// io_context run by `--threads` threads (default 2, the real server's
/// `server.threads` default), connections in strands, as RESTinio's own
/// examples run. `--lanes 1` sets it up as the real server is instead
/// (http/server.cpp): a lane per thread (common/io_lanes.hpp), api
/// connections spread over them in turn (http/lane_socket.hpp), no
/// strands. Every request, whatever its method and path, is answered
/// synchronously with 200 and the fixed body `{"Status":"Ok"}`. It prints
/// `api listening on http://ADDR:PORT` and `admin listening on ...` like
/// the real server, so the same harness starts both, and exits 0 on
/// SIGINT/SIGTERM.
///
/// `--data-dir DIR` is accepted and ignored (the harness passes it).

#include <atomic>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <restinio/all.hpp>

#include "common/io_lanes.hpp"
#include "http/lane_socket.hpp"

namespace {

using shared_traits_t = restinio::default_traits_t;
using lane_traits_t =
  restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t,
                     restinio::default_request_handler_t,
                     restinio::noop_strand_t, rapi::lane_socket>;

/// Command-line options.
struct options {
  std::string bind = "127.0.0.1";
  std::string admin_bind = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
  unsigned threads = 2;
  bool lanes = false;
  std::string body = "{\"Status\":\"Ok\"}";
};

const char* const usage_text =
  "usage: baseline-server [--port N] [--admin-port N] [--bind ADDR]\n"
  "                       [--threads N] [--lanes 0|1]\n"
  "                       [--body JSON] [--data-dir DIR]\n"
  "  --port N        api port (default 0: a free one, printed)\n"
  "  --admin-port N  admin port (default 0)\n"
  "  --bind ADDR     api listen address (default 127.0.0.1)\n"
  "  --threads N     listener threads (default 2)\n"
  "  --lanes 0|1     1: a lane per thread, as the real server (default 0:\n"
  "                  one io_context all threads run)\n"
  "  --body JSON     the body of every answer (default {\"Status\":\"Ok\"})\n"
  "  --data-dir DIR  ignored\n";

unsigned long number(const std::string& flag, const char* text,
                     unsigned long max) {
  char* end = nullptr;
  const unsigned long n = std::strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0' || n > max)
    throw std::invalid_argument(flag + " needs a number up to "
                                + std::to_string(max));
  return n;
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      std::exit(0);
    }
    if (i + 1 >= argc)
      throw std::invalid_argument("unknown option or missing value: " + a);
    const char* v = argv[++i];
    if (a == "--port")
      o.port = static_cast<std::uint16_t>(number(a, v, 65535));
    else if (a == "--admin-port")
      o.admin_port = static_cast<std::uint16_t>(number(a, v, 65535));
    else if (a == "--bind")
      o.bind = v;
    else if (a == "--threads")
      o.threads = static_cast<unsigned>(number(a, v, 256));
    else if (a == "--lanes")
      o.lanes = number(a, v, 1) == 1;
    else if (a == "--body")
      o.body = v;
    else if (a != "--data-dir")
      throw std::invalid_argument("unknown option '" + a + "'");
  }
  if (o.threads == 0)
    o.threads = 1;
  return o;
}

/// One listener answering every request with `body`.
template <class Traits>
std::unique_ptr<restinio::http_server_t<Traits>>
make_server(asio::io_context& ioc, const std::string& addr, std::uint16_t port,
            std::size_t accepts, const std::string& body,
            std::atomic<std::uint16_t>& bound) {
  auto s = std::make_unique<restinio::http_server_t<Traits>>(
    restinio::external_io_context(ioc),
    restinio::server_settings_t<Traits>{}
      .port(port)
      .address(addr)
      .request_handler([&body](restinio::request_handle_t req) {
        req->create_response()
          .append_header(restinio::http_field::content_type,
                         "application/json; charset=utf-8")
          .set_body(body)
          .done();
        return restinio::request_accepted();
      })
      .read_next_http_message_timelimit(std::chrono::seconds(60))
      .handle_request_timeout(std::chrono::seconds(30))
      .concurrent_accepts_count(accepts)
      .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& a) {
        bound = a.local_endpoint().port();
      }));
  s->open_sync();
  return s;
}

void print_ports(const options& o, std::uint16_t api, std::uint16_t admin) {
  std::printf("api listening on http://%s:%u\n", o.bind.c_str(),
              static_cast<unsigned>(api));
  std::printf("admin listening on http://%s:%u\n", o.admin_bind.c_str(),
              static_cast<unsigned>(admin));
  std::fflush(stdout);
}

int run_shared(const options& o) {
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  std::atomic<std::uint16_t> api_port{0};
  std::atomic<std::uint16_t> admin_port{0};
  auto api = make_server<shared_traits_t>(ioc, o.bind, o.port, 1, o.body,
                                          api_port);
  auto admin = make_server<shared_traits_t>(ioc, o.admin_bind, o.admin_port,
                                            1, o.body, admin_port);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (ec)
      return;
    api->close_sync();
    admin->close_sync();
    work.reset();
    ioc.stop();
  });

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < o.threads; ++i)
    threads.emplace_back([&ioc] { ioc.run(); });
  print_ports(o, api_port.load(), admin_port.load());
  for (auto& t : threads)
    t.join();
  return 0;
}

int run_lanes(const options& o) {
  rapi::io_lanes lanes{o.threads};
  std::atomic<std::uint16_t> api_port{0};
  std::atomic<std::uint16_t> admin_port{0};
  rapi::lane_socket::spread_over(&lanes);
  auto api = make_server<lane_traits_t>(lanes.at(0), o.bind, o.port,
                                        lanes.size(), o.body, api_port);
  rapi::lane_socket::spread_over(nullptr);
  auto admin = make_server<lane_traits_t>(lanes.at(0), o.admin_bind,
                                          o.admin_port, 1, o.body,
                                          admin_port);
  // Signals are taken here, on the main thread, once the lanes run.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  lanes.start();
  print_ports(o, api_port.load(), admin_port.load());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::promise<void> closed;
  asio::post(lanes.at(0), [&] {
    api->close_sync();
    admin->close_sync();
    closed.set_value();
  });
  closed.get_future().wait();
  lanes.stop();
  return 0;
}

int run(const options& o) {
  return o.lanes ? run_lanes(o) : run_shared(o);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "baseline-server: " << e.what() << "\n" << usage_text;
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "baseline-server: " << e.what() << "\n";
    return 1;
  }
}
