#pragma once

#include <caf/atom.hpp>

namespace rapi {

/// A blackout deadline (schedule or limit) may be due.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// The group committer has written (or failed to write) a pending change.
using commit_atom = caf::atom_constant<caf::atom("commit")>;

} // namespace rapi
