#pragma once

#include <cstdint>
#include <string>

namespace rapi {

/// Why an agent command failed. The HTTP layer maps each to a status code
/// and the stable `Code` of the error body (http/responses.cpp, one place).
enum class agent_errc : std::uint8_t {
  ok,
  agent_not_found,  ///< 404 AgentNotFound
  not_in_call,      ///< 404 NotInCall (vendor: API_DEVICE_NOT_IN_CALL)
  call_not_found,   ///< 404 CallNotFound
  not_recording,    ///< 404 NotRecording
  invalid_metadata, ///< 400 InvalidMetadata
  invalid_time,     ///< 400 InvalidTime
  storage_failure,  ///< 500 StorageFailure
};

/// The stable machine code for the error body.
const char* to_string(agent_errc e);

/// A failed command: the code and one human sentence naming what is wrong.
struct agent_error {
  agent_errc code = agent_errc::ok;
  std::string message;

  explicit operator bool() const { return code != agent_errc::ok; }
};

} // namespace rapi
