#pragma once

#include <string>

namespace rapi {

/// A random (version 4) UUID in lower-case 8-4-4-4-12 form. Recording
/// identifiers must be unique across every server of a cluster without
/// coordination, which 122 random bits give.
std::string make_uuid();

} // namespace rapi
