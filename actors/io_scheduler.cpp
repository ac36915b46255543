#include "actors/io_scheduler.hpp"

#include <thread>

#include <asio/defer.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace rapi {

namespace {

class io_coordinator;

/// What CAF hands an actor as its execution context: a message an actor
/// sends to an idle actor schedules the receiver through it.
class io_unit final : public caf::execution_unit {
public:
  io_unit(caf::actor_system* sys, io_coordinator* owner)
    : caf::execution_unit(sys), owner_(owner) {
  }
  void exec_later(caf::resumable* job) override;

private:
  io_coordinator* owner_;
};

class io_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  using super = caf::scheduler::abstract_coordinator;

  io_coordinator(caf::actor_system& sys, io_lanes& lanes)
    : super(sys), lanes_(lanes), unit_(&sys, this) {
  }

  /// `job` comes with a reference, which runs with it until it waits for
  /// messages or is done.
  void schedule(caf::resumable* job) {
    // On a lane's thread: behind its current work, on the same thread.
    if (auto* mine = lanes_.mine()) {
      asio::defer(*mine, [this, job] { run(job); });
      return;
    }
    // Once the threads have stopped, only the actor system's own end is
    // left (its internal actors' exit): that runs here and now.
    if (lanes_.stopped()) {
      run(job);
      return;
    }
    asio::post(lanes_.here(), [this, job] { run(job); });
  }

  void enqueue(caf::resumable* job) override {
    schedule(job);
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    // The actors are gone by now (the actor system awaited them); the
    // utility actors (CAF's printer) run on threads of their own.
    stop_actors();
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

private:
  void run(caf::resumable* job) {
    switch (job->resume(&unit_, max_throughput_)) {
      case caf::resumable::resume_later:
        // Its throughput used up with messages left: behind what is
        // queued meanwhile, keeping its reference.
        schedule(job);
        break;
      case caf::resumable::awaiting_message:
      case caf::resumable::done:
      case caf::resumable::shutdown_execution_unit:
        intrusive_ptr_release(job);
        break;
    }
  }

  io_lanes& lanes_;
  io_unit unit_;
  caf::detail::thread_safe_actor_clock clock_;
  std::thread timer_;
};

void io_unit::exec_later(caf::resumable* job) {
  owner_->schedule(job);
}

} // namespace

void run_actors_on(caf::actor_system_config& cfg, io_lanes& lanes) {
  cfg.module_factories.push_back(
    [&lanes](caf::actor_system& sys) -> caf::actor_system::module* {
      return new io_coordinator(sys, lanes);
    });
}

} // namespace rapi
