#include "http/exchange.hpp"

#include "common/json_value.hpp"

namespace rapi {

std::string error_body(std::string_view code, std::string_view message) {
  std::string out = "{\"Message\":";
  append_json_string(out, message);
  out += ",\"Code\":";
  append_json_string(out, code);
  out.push_back('}');
  return out;
}

void exchange::fail(const http_error& err, header_list headers) {
  respond(err.status, error_body(err.code, err.message), std::move(headers));
}

} // namespace rapi
