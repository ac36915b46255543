#pragma once

#include <cstdint>
#include <string>

#include "actors/model.hpp"

namespace rapi {

/// What agent actors need from the cluster module to publish their
/// blackout changes, as an interface so actors/ does not depend on
/// cluster/ (and unit tests can fake it). Absent when clustering is off.
///
/// A local change is written to the outbox in the same RocksDB batch as
/// the change itself (so it is published exactly when it is durable), and
/// the cluster is told once the batch is committed.
class replication {
public:
  virtual ~replication() = default;

  /// The outbox key for the next message (increasing).
  virtual std::string next_outbox_key() = 0;

  /// The wire message for a local change of `agent_id`'s blackout.
  virtual std::string encode_change(std::int64_t agent_id,
                                    const blackout_state& b)
    = 0;

  /// The batch holding the outbox entry `key` with `message` was
  /// committed. Keys are handed out in order, but batches written on
  /// different threads can commit out of that order: the publisher must
  /// not take a committed key as the end of what it has seen.
  virtual void outbox_committed(const std::string& key,
                                std::string message) = 0;
};

} // namespace rapi
