#pragma once

#include <cstddef>

#include <asio/ip/tcp.hpp>

#include "common/io_lanes.hpp"

namespace rapi {

/// A TCP socket that RESTinio's acceptor makes on the next lane of an
/// `io_lanes` rather than on the listener's own io_context.
///
/// How connections are spread: a listener made with `spread_over(lanes)`
/// in force and `concurrent_accepts_count(lanes.size())` keeps one
/// accepting socket per lane (RESTinio makes them when the server is
/// made). A socket keeps its lane when an accepted connection is moved out
/// of it, and the pending accepts complete in the order they were started,
/// so new connections go to the lanes in turn. A connection's reads,
/// writes and handlers then all run on its lane's one thread (so
/// `restinio::noop_strand_t` is enough). Its accept, and the timer RESTinio
/// checks its timeouts with, stay on the listener's lane.
///
/// Without `spread_over`, sockets are made on the listener's io_context,
/// as RESTinio's own sockets are.
class lane_socket : public asio::ip::tcp::socket {
public:
  explicit lane_socket(asio::io_context& ioc)
    : asio::ip::tcp::socket(pick(ioc)) {}
  lane_socket(lane_socket&&) = default;
  lane_socket& operator=(lane_socket&&) = default;

  /// Sockets this thread makes from now on go to `lanes` in turn, starting
  /// with the first (null: to the io_context they are made for).
  static void spread_over(io_lanes* lanes) {
    spread_lanes() = lanes;
    next_lane() = 0;
  }

private:
  static io_lanes*& spread_lanes() {
    thread_local io_lanes* lanes = nullptr;
    return lanes;
  }
  static std::size_t& next_lane() {
    thread_local std::size_t next = 0;
    return next;
  }
  static asio::io_context& pick(asio::io_context& ioc) {
    auto* lanes = spread_lanes();
    if (lanes == nullptr)
      return ioc;
    return lanes->at(next_lane()++ % lanes->size());
  }
};

} // namespace rapi
