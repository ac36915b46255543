#pragma once

#include <functional>

#include <caf/actor_system_config.hpp>

#include "common/io_lanes.hpp"

namespace rapi {

/// Makes `cfg`'s actor system run its actors on the threads that run
/// `lanes` (the HTTP listener threads) instead of a pool of its own.
///
/// Why: a request then needs no thread hand-off at all. The listener thread
/// that parsed it sends the command to the agent's actor; the actor is
/// queued on that same thread (its lane's `defer`, which wakes no other
/// thread), runs right after the request handler
/// returns, writes its change and answers, and the answer is written to the
/// socket there too. With a pool of its own each request woke two or three
/// threads, and on two cores shared with clients those wake-ups cost more
/// CPU than the request's own work.
///
/// Actors still run one message at a time each and own their state; only
/// the threads they run on change. Timers (`delayed_send`) run on a clock
/// thread of their own, as with CAF's scheduler.
///
/// An actor woken from a thread that runs no lane (CAF's clock thread, a
/// query thread) is posted to a lane in turn.
///
/// `lanes` must run for as long as the actor system has actors, and
/// outlive the actor system. End the actor system after the lanes'
/// threads: CAF's end waits until every thread that spawned an actor has
/// let go of it (a thread-local reference), and the listener threads spawn
/// agents' actors on first use.
void run_actors_on(caf::actor_system_config& cfg, io_lanes& lanes);

} // namespace rapi
