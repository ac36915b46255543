#pragma once

#include <algorithm>
#include <mutex>

#include "actors/model.hpp"

namespace rapi {

/// A hybrid logical clock (Kulkarni et al.): stamps never go backwards,
/// follow the wall clock when it moves, and stay ahead of every stamp seen
/// from a peer, so a change made after seeing another is ordered after it
/// even when the two servers' clocks disagree a little.
class hybrid_clock {
public:
  /// A stamp for a local event at wall time `now`.
  hlc_stamp tick(timestamp now) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (now > last_.wall) {
      last_ = {now, 0};
    } else {
      ++last_.logical;
    }
    return last_;
  }

  /// Takes a peer's stamp into account (on receipt).
  void observe(const hlc_stamp& remote, timestamp now) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto wall = std::max({last_.wall, remote.wall, now});
    if (wall == last_.wall && wall == remote.wall)
      last_.logical = std::max(last_.logical, remote.logical) + 1;
    else if (wall == last_.wall)
      ++last_.logical;
    else if (wall == remote.wall)
      last_.logical = remote.logical + 1;
    else
      last_.logical = 0;
    last_.wall = wall;
  }

  hlc_stamp last() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_;
  }

private:
  mutable std::mutex mtx_;
  hlc_stamp last_;
};

} // namespace rapi
