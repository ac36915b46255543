#include "actors/model.hpp"

#include "common/json_value.hpp"

namespace rapi {

void merge_metadata(metadata& into, const metadata& from) {
  for (auto& [k, v] : from) {
    std::size_t i = 0;
    while (i < into.size() && into[i].first != k)
      ++i;
    if (i == into.size())
      into.emplace_back(k, v);
    else if (into[i].second != v) // an unchanged value stays shared
      into.edit()[i].second = v;
  }
}

bool agent_profile::operator==(const agent_profile& o) const {
  return id == o.id && business_unit == o.business_unit && phone == o.phone
         && system_username == o.system_username
         && crm_username == o.crm_username && username == o.username
         && device_id == o.device_id && device_alias == o.device_alias;
}

bool blackout_state::same_state(const blackout_state& o) const {
  return active == o.active && start == o.start && stop == o.stop
         && scheduled_start == o.scheduled_start
         && scheduled_stop == o.scheduled_stop && history == o.history;
}

bool blackout_state::operator==(const blackout_state& o) const {
  return same_state(o) && origin == o.origin && version == o.version;
}

const char* to_string(recording_kind k) {
  switch (k) {
    case recording_kind::audio:
      return "Audio";
    case recording_kind::duplicate:
      return "Duplicate";
    case recording_kind::screen:
      return "Screen";
  }
  return "Audio";
}

const char* to_string(recording_state s) {
  return s == recording_state::recording ? "Recording" : "Completed";
}

const char* to_string(stop_reason r) {
  switch (r) {
    case stop_reason::none:
      return "";
    case stop_reason::api:
      return "Api";
    case stop_reason::call_ended:
      return "CallEnded";
    case stop_reason::agent_removed:
      return "AgentRemoved";
  }
  return "";
}

const char* to_string(call_state s) {
  switch (s) {
    case call_state::on_call:
      return "OnCall";
    case call_state::on_hold:
      return "OnHold";
    case call_state::parked:
      return "Parked";
  }
  return "OnCall";
}

std::optional<recording_kind> parse_recording_kind(std::string_view s) {
  for (auto k :
       {recording_kind::audio, recording_kind::duplicate, recording_kind::screen})
    if (iequals(s, to_string(k)))
      return k;
  return std::nullopt;
}

std::optional<stop_reason> parse_stop_reason(std::string_view s) {
  for (auto r : {stop_reason::api, stop_reason::call_ended,
                 stop_reason::agent_removed})
    if (iequals(s, to_string(r)))
      return r;
  return std::nullopt;
}

std::optional<call_state> parse_call_state(std::string_view s) {
  for (auto c : {call_state::on_call, call_state::on_hold, call_state::parked})
    if (iequals(s, to_string(c)))
      return c;
  return std::nullopt;
}

} // namespace rapi

#include "actors/errc.hpp"

namespace rapi {

const char* to_string(agent_errc e) {
  switch (e) {
    case agent_errc::ok:
      return "Ok";
    case agent_errc::agent_not_found:
      return "AgentNotFound";
    case agent_errc::not_in_call:
      return "NotInCall";
    case agent_errc::call_not_found:
      return "CallNotFound";
    case agent_errc::not_recording:
      return "NotRecording";
    case agent_errc::invalid_metadata:
      return "InvalidMetadata";
    case agent_errc::invalid_time:
      return "InvalidTime";
    case agent_errc::storage_failure:
      return "StorageFailure";
  }
  return "InternalError";
}

} // namespace rapi
