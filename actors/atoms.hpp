#pragma once

#include <caf/atom.hpp>

namespace rapi {

/// A blackout deadline (schedule or limit) may be due.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

} // namespace rapi
