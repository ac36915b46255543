/// ThreadSanitizer builds only (-DRAPI_SANITIZE=thread): tells TSan the
/// order in which libcaf_core hands actors and messages between threads.
///
/// Debian's libcaf_core is not instrumented. TSan sees the memory our code
/// and CAF's header templates touch, but not the atomics of an actor's
/// mailbox or of the work-stealing scheduler that order those accesses, so
/// it would report every message (built by the sender, read by a worker)
/// and every actor that moves to another worker as a race in our code.
///
/// This file is compiled into every TSan-built program that links CAF
/// (cmake/dependencies.cmake). It defines a few functions of libcaf_core
/// again: the program's definition wins over the library's (the dynamic
/// linker binds the first one, also for the library's own calls, which go
/// through its PLT or through vtables), and each one calls the library's
/// own (`dlsym(RTLD_NEXT)`) with what CAF guarantees stated around it. One
/// TSan sync object per actor, at its control block:
///
/// - `enqueue` (a message) and `launch` (a spawn) release before CAF
///   publishes the message or the actor;
/// - `activate` (the first run initialises the actor), `reactivate` (one
///   message) and `finalize` (terminating: the state is destroyed and
///   what is left in the mailbox dropped) acquire before and release
///   after, as does a blocking actor's mailbox visitor. So a handler is
///   ordered after the sending of its message and after every earlier
///   handler of the same actor, whichever worker ran it. (Not around
///   `resume`: a worker gives the actor up inside it, and another worker
///   could take it before a release after `resume`.)
/// - dropping a strong or weak reference releases and acquires (CAF's
///   counters are acq_rel), so whoever destroys an actor is ordered after
///   all its runs.
///
/// This states the library's own synchronisation and nothing more: no
/// lock, no order CAF does not guarantee, no access hidden. The ctests
/// caf_tsan_clean and caf_tsan_race (caf_tsan_check.cpp) check both sides.
/// The symbol names are CAF 0.17's; a missing one aborts the program with
/// a message. docs/hardening.md explains the choice.

#include <cstdio>
#include <cstdlib>
#include <utility>

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <caf/actor_control_block.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scheduled_actor.hpp>

namespace {

/// The library's definition of `symbol` (which this file hides); aborts
/// when it is missing, i.e. CAF is not the 0.17 this file was written for.
template <class Fn>
Fn library_function(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr,
                 "caf_tsan: %s is not in libcaf_core (not CAF 0.17?); "
                 "see tests/sanitizers/caf_tsan.cpp\n",
                 symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

void* channel(const caf::abstract_actor* self) {
  return caf::actor_control_block::from(self);
}

/// Acquires on entry, releases on exit: CAF runs an actor on one worker at
/// a time and these bracket everything that runs of it.
class actor_run {
public:
  explicit actor_run(const caf::abstract_actor* self) : ch_(channel(self)) {
    __tsan_acquire(ch_);
  }
  ~actor_run() {
    __tsan_release(ch_);
  }
  actor_run(const actor_run&) = delete;
  actor_run& operator=(const actor_run&) = delete;

private:
  void* ch_;
};

} // namespace

namespace caf {

// -- hand-offs to a worker ----------------------------------------------------

void scheduled_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(scheduled_actor*, mailbox_element_ptr, execution_unit*);
  static const auto lib = library_function<fn>(
    "_ZN3caf15scheduled_actor7enqueueESt10unique_ptrINS_15mailbox_elementENS_"
    "6detail8disposerEEPNS_14execution_unitE");
  __tsan_release(channel(this));
  lib(this, std::move(ptr), eu);
}

void scheduled_actor::launch(execution_unit* eu, bool lazy, bool hide) {
  using fn = void (*)(scheduled_actor*, execution_unit*, bool, bool);
  static const auto lib = library_function<fn>(
    "_ZN3caf15scheduled_actor6launchEPNS_14execution_unitEbb");
  __tsan_release(channel(this));
  lib(this, eu, lazy, hide);
}

// -- runs on a worker ---------------------------------------------------------

bool scheduled_actor::activate(execution_unit* ctx) {
  using fn = bool (*)(scheduled_actor*, execution_unit*);
  static const auto lib = library_function<fn>(
    "_ZN3caf15scheduled_actor8activateEPNS_14execution_unitE");
  actor_run run{this};
  return lib(this, ctx);
}

scheduled_actor::activation_result
scheduled_actor::reactivate(mailbox_element& x) {
  using fn = activation_result (*)(scheduled_actor*, mailbox_element&);
  static const auto lib = library_function<fn>(
    "_ZN3caf15scheduled_actor10reactivateERNS_15mailbox_elementE");
  actor_run run{this};
  return lib(this, x);
}

bool scheduled_actor::finalize() {
  using fn = bool (*)(scheduled_actor*);
  static const auto lib =
    library_function<fn>("_ZN3caf15scheduled_actor8finalizeEv");
  actor_run run{this};
  return lib(this);
}

// -- blocking actors (CAF's own: the printer behind caf::aout) ----------------

void blocking_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(blocking_actor*, mailbox_element_ptr, execution_unit*);
  static const auto lib = library_function<fn>(
    "_ZN3caf14blocking_actor7enqueueESt10unique_ptrINS_15mailbox_elementENS_"
    "6detail8disposerEEPNS_14execution_unitE");
  __tsan_release(channel(this));
  lib(this, std::move(ptr), eu);
}

intrusive::task_result
blocking_actor::mailbox_visitor::operator()(mailbox_element& x) {
  using fn = intrusive::task_result (*)(mailbox_visitor*, mailbox_element&);
  static const auto lib = library_function<fn>(
    "_ZN3caf14blocking_actor15mailbox_visitorclERNS_15mailbox_elementE");
  actor_run run{self};
  return lib(this, x);
}

// -- references ---------------------------------------------------------------

void intrusive_ptr_release(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static const auto lib = library_function<fn>(
    "_ZN3caf21intrusive_ptr_releaseEPNS_19actor_control_blockE");
  __tsan_release(x);
  __tsan_acquire(x);
  lib(x);
}

void intrusive_ptr_release_weak(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static const auto lib = library_function<fn>(
    "_ZN3caf26intrusive_ptr_release_weakEPNS_19actor_control_blockE");
  __tsan_release(x);
  __tsan_acquire(x);
  lib(x);
}

} // namespace caf
