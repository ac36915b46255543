#pragma once

#include <string_view>

namespace rapi {

/// The OpenAPI 3 document of the whole API (docs/openapi.yaml, written in
/// YAML's JSON form so that it is served as it is), embedded at build time.
std::string_view openapi_json();

} // namespace rapi
