#include "http/server.hpp"

#include <future>
#include <mutex>
#include <unordered_set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <asio/thread_pool.hpp>
#include <restinio/all.hpp>

#include "common/json_value.hpp"
#include "common/uuid.hpp"
#include "http/lane_socket.hpp"

namespace rapi {

namespace {

/// Counts open connections per listener and marks those accepted beyond
/// the limit, whose requests are then refused.
class connection_tracker {
public:
  connection_tracker(std::size_t max) : max_(max) {}

  void state_changed(const restinio::connection_state::notice_t& n) {
    using namespace restinio::connection_state;
    auto id = n.connection_id();
    const auto cause = n.cause();
    std::lock_guard<std::mutex> guard{mtx_};
    if (restinio::get_if<accepted_t>(&cause) != nullptr) {
      open_ids_.insert(id);
      if (open_ids_.size() > max_)
        over_.insert(id);
    } else if (restinio::get_if<closed_t>(&cause) != nullptr) {
      // RESTinio may report one connection closed more than once: count
      // by id, never by notices.
      open_ids_.erase(id);
      over_.erase(id);
    }
    open_ = static_cast<std::int64_t>(open_ids_.size());
    over_count_ = over_.size();
  }

  bool over_limit(std::uint64_t id) const {
    if (over_count_.load(std::memory_order_relaxed) == 0)
      return false;
    std::lock_guard<std::mutex> guard{mtx_};
    return over_.count(id) != 0;
  }

  std::int64_t open() const { return open_.load(); }

private:
  const std::size_t max_;
  std::atomic<std::int64_t> open_{0};
  std::atomic<std::size_t> over_count_{0};
  mutable std::mutex mtx_;
  std::unordered_set<std::uint64_t> open_ids_;
  std::unordered_set<std::uint64_t> over_;
};

/// Each connection's work runs on its lane's one thread: no strands.
struct traits_t
  : public restinio::traits_t<restinio::asio_timer_manager_t,
                              restinio::null_logger_t,
                              restinio::default_request_handler_t,
                              restinio::noop_strand_t, lane_socket> {
  using connection_state_listener_t = connection_tracker;
};
using server_t = restinio::http_server_t<traits_t>;

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

/// True when the comma-separated header value `v` holds `token` (any case).
bool has_token(std::string_view v, std::string_view token) {
  while (!v.empty()) {
    auto comma = v.find(',');
    auto part = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{}
                                        : v.substr(comma + 1);
    auto b = part.find_first_not_of(" \t");
    auto e = part.find_last_not_of(" \t");
    if (b != std::string_view::npos
        && iequals(part.substr(b, e - b + 1), token))
      return true;
  }
  return false;
}

} // namespace

struct http_server::impl {
  http_settings settings;
  handlers* h = nullptr;
  std::unique_ptr<io_lanes> lanes;
  bool started = false;
  std::unique_ptr<asio::thread_pool> queries;
  std::unique_ptr<server_t> api;
  std::unique_ptr<server_t> admin;
  std::atomic<std::uint16_t> api_port{0};
  std::atomic<std::uint16_t> admin_port{0};
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> ready{false};
  std::function<void(const exchange&, int, std::int64_t)> observer;
  std::shared_ptr<connection_tracker> api_conns;
  std::shared_ptr<connection_tracker> admin_conns;
  limit_counters limits;
  std::string id_prefix;
  std::atomic<std::uint64_t> next_id{0};
  /// Requests read on each lane, a cache line each (no line bounces
  /// between the lanes' threads).
  struct alignas(64) lane_count {
    std::atomic<std::uint64_t> n{0};
  };
  std::unique_ptr<lane_count[]> lane_requests;

  /// The RESTinio side of an exchange.
  class restinio_exchange final : public exchange {
  public:
    restinio_exchange(restinio::request_handle_t req, impl* owner)
      : req_(std::move(req)), owner_(owner),
        started_(std::chrono::steady_clock::now()) {
      ++owner_->in_flight;
    }

    ~restinio_exchange() override {
      if (!responded())
        respond(500, error_body("InternalError",
                                "the request was dropped without an answer"));
      --owner_->in_flight;
    }

  protected:
    void do_respond(int status, std::string body,
                    header_list headers) override {
      const restinio::http_status_line_t line{
        restinio::http_status_code_t{static_cast<std::uint16_t>(status)},
        reason_phrase(status)};
      // HEAD: the headers GET would send, its Content-Length included
      // (RFC 9110 §9.3.2), and no body.
      if (method == "HEAD") {
        auto resp = req_->create_response<restinio::user_controlled_output_t>(
          line);
        resp.set_content_length(body.size());
        finish(resp, status, headers);
        return;
      }
      auto resp = req_->create_response(line);
      resp.set_body(std::move(body));
      finish(resp, status, headers);
    }

  private:
    /// Adds the headers every answer has and sends it.
    template <class Response>
    void finish(Response& resp, int status, const header_list& headers) {
      const bool text = status == 200 && which == route::metrics;
      resp.append_header(restinio::http_field::content_type,
                         text ? "text/plain; version=0.0.4; charset=utf-8"
                              : "application/json; charset=utf-8");
      resp.append_header("X-Request-Id", request_id);
      for (auto& [k, v] : headers) {
        if (k == "Connection" && v == "close")
          resp.connection_close();
        else
          resp.append_header(k, v);
      }
      // Counted and logged before the answer leaves: a client that has its
      // answer must find the request in /admin/metrics (a slow machine
      // showed the scrape winning the race; scripts/sanitize.sh).
      if (owner_->observer)
        owner_->observer(
          *this, status,
          std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started_)
            .count());
      resp.done();
    }

    restinio::request_handle_t req_;
    impl* owner_;
    std::chrono::steady_clock::time_point started_;
  };

  /// The client's X-Request-Id when it is short and plain, else a new one.
  std::string request_id_for(const std::string& given) {
    bool sane = !given.empty() && given.size() <= 64;
    for (char c : given)
      sane = sane
             && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '-' || c == '_'
                 || c == '.');
    if (sane)
      return given;
    return id_prefix + std::to_string(next_id.fetch_add(1));
  }

  restinio::request_handling_status_t handle(listener l,
                                             restinio::request_handle_t req) {
    const auto lane = lanes->mine_index();
    if (lane < lanes->size())
      lane_requests[lane].n.fetch_add(1, std::memory_order_relaxed);
    auto ex = std::make_shared<restinio_exchange>(req, this);
    const auto& head = req->header();
    ex->method = head.method().c_str();
    ex->path = std::string(head.path());
    ex->query = std::string(head.query());
    ex->content_type = head.get_field_or(restinio::http_field::content_type,
                                         "");
    ex->authorization = head.get_field_or(restinio::http_field::authorization,
                                          "");
    ex->api_key = head.get_field_or("X-Api-Key", "");
    ex->request_id = request_id_for(head.get_field_or("X-Request-Id", ""));
    ex->where = l;
    auto limit = l == listener::api ? settings.max_body_bytes
                                    : settings.admin_max_body_bytes;
    if (req->body().size() > limit) {
      ex->body_too_large = true;
      ++limits.body;
    } else {
      ex->body = req->body();
    }
    // HTTP framing the parser lets through but RFC 9112 forbids: more than
    // one Host, HTTP/1.1 without one, white space in a field name (a
    // request-smuggling vector). RESTinio does not pass on the request's
    // HTTP version, but its parser's keep-alive verdict tells it in part:
    // a request that keeps the connection open without saying
    // `Connection: keep-alive` is HTTP/1.1 (1.0 closes by default). One
    // that says either keep-alive or close cannot be told from HTTP/1.0,
    // which needs no Host, and is accepted (docs/hardening.md).
    {
      std::size_t hosts = 0;
      bool bad_name = false;
      bool asks_keep_alive = false;
      head.for_each_field([&](const restinio::http_header_field_t& f) {
        if (iequals(f.name(), "Host"))
          ++hosts;
        else if (iequals(f.name(), "Connection"))
          asks_keep_alive = asks_keep_alive || has_token(f.value(),
                                                         "keep-alive");
        for (char c : f.name())
          bad_name = bad_name || c == ' ' || c == '\t';
      });
      const bool http11 = head.should_keep_alive() && !asks_keep_alive;
      const char* why = nullptr;
      if (hosts > 1)
        why = "the request has more than one Host header";
      else if (hosts == 0 && http11)
        why = "an HTTP/1.1 request must have a Host header";
      else if (bad_name)
        why = "a header field name contains white space";
      if (why != nullptr) {
        ex->fail({400, "BadRequest", why}, {{"Connection", "close"}});
        return restinio::request_accepted();
      }
    }
    auto& conns = l == listener::api ? api_conns : admin_conns;
    if (conns->over_limit(req->connection_id())) {
      ++limits.connections;
      ex->fail({503, "TooManyConnections",
                "the server has " + std::to_string(settings.max_connections)
                  + " connections open on this listener; try again later"},
               {{"Connection", "close"}, {"Retry-After", "1"}});
      return restinio::request_accepted();
    }
    if (stopping.load()) {
      ex->fail({503, "ShuttingDown", "the server is shutting down"},
               {{"Connection", "close"}});
      return restinio::request_accepted();
    }
    auto early = match_route(l, ex->method, ex->path);
    if (!ready.load() && early.which != route::health
        && early.which != route::ready) {
      ex->which = early.which;
      ex->route_name = early.name;
      ex->fail({503, "Starting",
                "the server is restoring its agents; try again shortly"},
               {{"Retry-After", "1"}});
      return restinio::request_accepted();
    }
    h->dispatch(l, ex, std::move(early));
    return restinio::request_accepted();
  }

  std::unique_ptr<server_t> make(listener l, const std::string& addr,
                                 std::uint16_t port,
                                 std::atomic<std::uint16_t>& bound) {
    auto limit = l == listener::api ? settings.max_body_bytes
                                    : settings.admin_max_body_bytes;
    // Bodies up to 16x the limit are read and answered 413; beyond that
    // the connection is closed without reading on.
    auto hard = std::max<std::uint64_t>(limit * 16ULL, 1 << 20);
    auto tracker = std::make_shared<connection_tracker>(settings.max_connections);
    (l == listener::api ? api_conns : admin_conns) = tracker;
    // The listeners accept on the first lane; API connections then go to
    // the lanes in turn, admin connections stay on the first.
    const bool spread = l == listener::api && lanes->size() > 1;
    lane_socket::spread_over(spread ? lanes.get() : nullptr);
    // Back to plain sockets however the construction ends.
    struct plain_after {
      ~plain_after() { lane_socket::spread_over(nullptr); }
    } plain;
    auto s = std::make_unique<server_t>(
      restinio::external_io_context(lanes->at(0)),
      restinio::server_settings_t<traits_t>{}
        .port(port)
        .address(addr)
        .request_handler([this, l](restinio::request_handle_t req) {
          return handle(l, std::move(req));
        })
        .incoming_http_msg_limits(
          restinio::incoming_http_msg_limits_t{}
            .max_body_size(hard)
            .max_url_size(settings.max_url_bytes)
            .max_field_name_size(settings.max_header_bytes)
            .max_field_value_size(settings.max_header_bytes)
            .max_field_count(settings.max_header_count))
        .connection_state_listener(tracker)
        .concurrent_accepts_count(spread ? lanes->size() : 1)
        .read_next_http_message_timelimit(settings.read_timeout)
        .handle_request_timeout(std::chrono::seconds(30))
        .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& a) {
          bound = a.local_endpoint().port();
        }));
    try {
      s->open_sync();
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot listen on " + addr + ":"
                               + std::to_string(port) + ": " + e.what());
    }
    return s;
  }
};

http_server::http_server(http_settings settings)
  : impl_(std::make_unique<impl>()) {
  impl_->settings = std::move(settings);
  // Request ids: a random prefix per process, then a counter.
  impl_->id_prefix = make_uuid().substr(0, 8) + "-";
  impl_->lanes = std::make_unique<io_lanes>(
    std::max<std::size_t>(1, impl_->settings.threads));
  impl_->lane_requests =
    std::make_unique<impl::lane_count[]>(impl_->lanes->size());
  impl_->queries = std::make_unique<asio::thread_pool>(
    std::max<std::size_t>(1, impl_->settings.query_threads));
}

http_server::~http_server() {
  stop();
}

void http_server::bind() {
  auto& d = *impl_;
  if (d.api)
    return;
  d.api = d.make(listener::api, d.settings.bind, d.settings.port, d.api_port);
  d.admin = d.make(listener::admin, d.settings.admin_bind,
                   d.settings.admin_port, d.admin_port);
}

void http_server::start(handlers& h) {
  bind();
  auto& d = *impl_;
  d.h = &h;
  d.started = true;
  d.lanes->start(d.settings.pin_threads);
}

std::uint16_t http_server::api_port() const {
  return impl_->api_port.load();
}

std::uint16_t http_server::admin_port() const {
  return impl_->admin_port.load();
}

void http_server::offload(std::function<void()> fn) {
  asio::post(*impl_->queries, std::move(fn));
}

void http_server::set_ready() {
  impl_->ready = true;
}

void http_server::stop_accepting() {
  auto& d = *impl_;
  d.stopping = true;
  if (!d.started)
    return;
  std::promise<void> done;
  asio::post(d.lanes->at(0), [&d, &done] {
    for (auto* s : {d.api.get(), d.admin.get()})
      if (s)
        s->close_sync();
    done.set_value();
  });
  done.get_future().wait_for(std::chrono::seconds(5));
}

bool http_server::drain(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (impl_->in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void http_server::stop() {
  auto& d = *impl_;
  if (d.queries) {
    d.queries->join();
  }
  d.lanes->stop();
  d.api.reset();
  d.admin.reset();
}

io_lanes& http_server::lanes() {
  return *impl_->lanes;
}

std::int64_t http_server::in_flight() const {
  return impl_->in_flight.load();
}

std::int64_t http_server::open_connections() const {
  return (impl_->api_conns ? impl_->api_conns->open() : 0)
         + (impl_->admin_conns ? impl_->admin_conns->open() : 0);
}

std::vector<std::uint64_t> http_server::requests_by_lane() const {
  std::vector<std::uint64_t> v(impl_->lanes->size());
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = impl_->lane_requests[i].n.load(std::memory_order_relaxed);
  return v;
}

limit_counters& http_server::limits() {
  return impl_->limits;
}

void http_server::set_observer(
  std::function<void(const exchange&, int, std::int64_t)> observer) {
  impl_->observer = std::move(observer);
}

} // namespace rapi
