/// baseline-server: the fastest thing RESTinio can do on this machine, as
/// the same-run reference for recording-bench (issue "Performance", part 2).
///
/// Two RESTinio listeners (api and admin, like the real server) on one
/// io_context run by `--threads` threads (default 2, the real server's
/// `server.threads` default), with the same traits and limits the real
/// server uses. Every request, whatever its method and path, is answered
/// synchronously with 200 and the fixed body `{"Status":"Ok"}`. It prints
/// `api listening on http://ADDR:PORT` and `admin listening on ...` like
/// the real server, so the same harness starts both, and exits 0 on
/// SIGINT/SIGTERM.
///
/// `--data-dir DIR` is accepted and ignored (the harness passes it).

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <restinio/all.hpp>

namespace {

using traits_t = restinio::default_traits_t;
using server_t = restinio::http_server_t<traits_t>;

/// Command-line options.
struct options {
  std::string bind = "127.0.0.1";
  std::string admin_bind = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
  unsigned threads = 2;
  std::string body = "{\"Status\":\"Ok\"}";
};

const char* const usage_text =
  "usage: baseline-server [--port N] [--admin-port N] [--bind ADDR]\n"
  "                       [--threads N] [--body JSON] [--data-dir DIR]\n"
  "  --port N        api port (default 0: a free one, printed)\n"
  "  --admin-port N  admin port (default 0)\n"
  "  --bind ADDR     api listen address (default 127.0.0.1)\n"
  "  --threads N     threads running the io_context (default 2)\n"
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
std::unique_ptr<server_t> make_server(asio::io_context& ioc,
                                      const std::string& addr,
                                      std::uint16_t port,
                                      const std::string& body,
                                      std::atomic<std::uint16_t>& bound) {
  auto s = std::make_unique<server_t>(
    restinio::external_io_context(ioc),
    restinio::server_settings_t<traits_t>{}
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
      .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& a) {
        bound = a.local_endpoint().port();
      }));
  s->open_sync();
  return s;
}

int run(const options& o) {
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  std::atomic<std::uint16_t> api_port{0};
  std::atomic<std::uint16_t> admin_port{0};
  auto api = make_server(ioc, o.bind, o.port, o.body, api_port);
  auto admin = make_server(ioc, o.admin_bind, o.admin_port, o.body,
                           admin_port);

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
  std::printf("api listening on http://%s:%u\n", o.bind.c_str(),
              static_cast<unsigned>(api_port.load()));
  std::printf("admin listening on http://%s:%u\n", o.admin_bind.c_str(),
              static_cast<unsigned>(admin_port.load()));
  std::fflush(stdout);
  for (auto& t : threads)
    t.join();
  return 0;
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
