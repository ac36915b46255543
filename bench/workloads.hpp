#pragma once

/// \file
/// The request streams of recording-bench: `status` (random agent lookups)
/// and `lifecycle` (every agent walks a contact-center call script, so
/// every request is valid and should be answered 200).
///
/// The agents are the synthetic ones of `bench_util.hpp`'s
/// `append_agent_json`: id N has phone `pN`, username `uN`, CRM username
/// `cN@crm`.

#include <atomic>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load_client.hpp"

namespace rapi::bench {

/// Appends a GET request line and headers to `out`.
inline void append_get(std::string& out, std::string_view target) {
  out += "GET ";
  out += target;
  out += " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

/// Appends a POST of JSON `body` to `out`.
inline void append_post(std::string& out, std::string_view path,
                        std::string_view body) {
  out += "POST ";
  out += path;
  out += " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
         "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
}

/// `GET /api/Agent?agentIdentifier=Phone&value=p<id>` for agents drawn
/// uniformly from 1..agents. Stateless: always has a request ready.
class status_workload final : public workload {
public:
  status_workload(std::uint64_t agents, std::uint64_t seed)
    : rng_(seed), pick_(1, agents) {}

  bool next(load_request& r) override {
    r.wire.clear();
    r.wire += "GET /api/Agent?agentIdentifier=Phone&value=p";
    r.wire += std::to_string(pick_(rng_));
    r.wire += " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    r.op = 0;
    r.tag = 0;
    return true;
  }
  void done(const load_request&, int) override {}
  std::size_t op_count() const override { return 1; }
  const char* op_name(std::size_t) const override { return "GET /api/Agent"; }

private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::uint64_t> pick_;
};

/// The steps of one call in the lifecycle script, in order. Optional steps
/// (screen, duplicate) are skipped on calls that do not have them.
enum lifecycle_op : std::uint8_t {
  op_call_started,
  op_record_start,
  op_screen_start,
  op_record_update,
  op_duplicate_start,
  op_blackout_start,
  op_blackout_stop,
  op_duplicate_stop,
  op_screen_stop,
  op_record_stop,
  op_call_ended,
  lifecycle_op_count
};

/// Contact-center calls: each agent, in turn, gets a call from the CTI
/// feed, starts recording it, has CRM metadata merged in, blacks out the
/// recording while a card number is read and resumes, stops recording and
/// hangs up; a share of calls also has a screen recording (started after
/// the audio one, stopped before it) and a share a duplicate recording.
/// Requests name the agent by Id, Phone, Username or CrmUsername (as the
/// CTI feed, softphone, desktop and CRM integrations would).
///
/// An agent has at most one request in flight; agents take turns (FIFO),
/// so with many agents each one's steps are spread out in time.
class lifecycle_workload final : public workload {
public:
  /// Drives agents `ids`; `screen_share` / `duplicate_share` are the
  /// fractions of calls with a screen / duplicate recording.
  lifecycle_workload(std::vector<std::uint64_t> ids, double screen_share,
                     double duplicate_share, std::uint64_t seed)
    : rng_(seed), screen_(screen_share), duplicate_(duplicate_share) {
    agents_.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      agents_[i].id = ids[i];
      ready_.push_back(static_cast<std::uint32_t>(i));
    }
  }

  bool next(load_request& r) override {
    std::uint32_t k = 0;
    for (;;) {
      if (ready_.empty())
        return false;
      k = ready_.front();
      ready_.pop_front();
      const agent& a = agents_[k];
      if (a.step != op_call_started || a.call < call_limit_)
        break;
      parked_.push_back(k); // made its calls; waits for `lift_call_limit`
    }
    agent& a = agents_[k];
    if (a.step == op_call_started) {
      ++a.call;
      a.screen = draw_(rng_) < screen_;
      a.duplicate = draw_(rng_) < duplicate_;
    }
    build(a, r.wire);
    r.tag = k;
    r.op = a.step;
    return true;
  }

  void done(const load_request& r, int status) override {
    agent& a = agents_[r.tag];
    if (status != 200)
      ++a.failed;
    if (a.step == op_call_ended)
      calls_.fetch_add(1, std::memory_order_relaxed);
    a.step = following(a);
    ready_.push_back(r.tag);
  }

  std::size_t op_count() const override { return lifecycle_op_count; }

  const char* op_name(std::size_t op) const override {
    static const char* const names[] = {
      "Cti CallStarted",       "Record/Start",
      "ScreenRecord/Start",    "Record/Update",
      "Record/StartDuplicate", "Blackout/Start",
      "Blackout/Stop",         "Record/StopDuplicate",
      "ScreenRecord/Stop",     "Record/Stop",
      "Cti CallEnded"};
    return op < lifecycle_op_count ? names[op] : "?";
  }

  /// Calls that went through to CallEnded (readable from any thread).
  std::uint64_t calls() const { return calls_.load(); }

  /// From now on an agent that has started `n` calls in all starts no
  /// further one (its requests stop once that call ended).
  void set_call_limit(std::uint64_t n) { call_limit_ = n; }

  /// Lets every agent go on making calls.
  void lift_call_limit() {
    call_limit_ = ~std::uint64_t{0};
    ready_.insert(ready_.end(), parked_.begin(), parked_.end());
    parked_.clear();
  }

  /// Agents with a request in flight (0 between phases).
  std::size_t busy() const { return agents_.size() - ready_.size(); }

private:
  struct agent {
    std::uint64_t id = 0;
    std::uint64_t call = 0;
    std::uint64_t failed = 0;
    std::uint8_t step = op_call_started;
    bool screen = false;
    bool duplicate = false;
  };

  std::uint8_t following(const agent& a) const {
    std::uint8_t s = a.step;
    for (;;) {
      s = static_cast<std::uint8_t>((s + 1) % lifecycle_op_count);
      if ((s == op_screen_start || s == op_screen_stop) && !a.screen)
        continue;
      if ((s == op_duplicate_start || s == op_duplicate_stop) && !a.duplicate)
        continue;
      return s;
    }
  }

  void build(const agent& a, std::string& out) {
    const std::string id = std::to_string(a.id);
    const std::string call = id + "-" + std::to_string(a.call);
    body_.clear();
    out.clear();
    switch (a.step) {
      case op_call_started:
        body_ = "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + id
                + "\",\"Type\":\"CallStarted\",\"CallId\":\"c" + call
                + "\",\"Direction\":\"Inbound\",\"Ani\":\"555"
                + std::to_string(1000000 + a.call % 9000000)
                + "\",\"Dnis\":\"8005550100\"}";
        append_post(out, "/api/Cti/Events", body_);
        break;
      case op_record_start:
        body_ = "{\"AgentIdentifier\":\"Phone\",\"Value\":\"p" + id
                + "\",\"CallIdentifier\":\"i" + call
                + "\",\"CallMetadata\":{\"user1\":\"acct-" + call + "\"}}";
        append_post(out, "/api/Record/StartForAgent", body_);
        break;
      case op_screen_start:
        body_ = "{\"AgentIdentifier\":\"Username\",\"Value\":\"u" + id
                + "\"}";
        append_post(out, "/api/ScreenRecord/StartForAgent", body_);
        break;
      case op_record_update:
        body_ = "{\"AgentIdentifier\":\"CrmUsername\",\"Value\":\"c" + id
                + "@crm\",\"CallMetadata\":{\"user2\":\"4111"
                + std::to_string(100000 + a.call % 900000)
                + "\",\"user3\":\"case-" + call + "\"}}";
        append_post(out, "/api/Record/UpdateForAgent", body_);
        break;
      case op_duplicate_start:
        body_ = "{\"AgentIdentifier\":\"Id\",\"Value\":" + id
                + ",\"CallIdentifier\":\"i" + call + "\"}";
        append_post(out, "/api/Record/StartDuplicateForAgent", body_);
        break;
      case op_blackout_start:
        body_ = "{\"AgentIdentifier\":\"Phone\",\"Value\":\"p" + id + "\"}";
        append_post(out, "/api/Blackout/StartForAgent", body_);
        break;
      case op_blackout_stop:
        body_ = "{\"AgentIdentifier\":\"Phone\",\"Value\":\"p" + id + "\"}";
        append_post(out, "/api/Blackout/StopForAgent", body_);
        break;
      case op_duplicate_stop:
        body_ = "{\"AgentIdentifier\":\"Id\",\"Value\":" + id
                + ",\"CallIdentifier\":\"i" + call + "\"}";
        append_post(out, "/api/Record/StopDuplicateForAgent", body_);
        break;
      case op_screen_stop:
        body_ = "{\"AgentIdentifier\":\"Username\",\"Value\":\"u" + id
                + "\"}";
        append_post(out, "/api/ScreenRecord/StopForAgent", body_);
        break;
      case op_record_stop:
        body_ = "{\"AgentIdentifier\":\"Phone\",\"Value\":\"p" + id
                + "\",\"CallIdentifier\":\"i" + call
                + "\",\"CallMetadata\":{\"user4\":\"resolved\"}}";
        append_post(out, "/api/Record/StopForAgent", body_);
        break;
      default:
        body_ = "{\"AgentIdentifier\":\"Id\",\"Value\":\"" + id
                + "\",\"Type\":\"CallEnded\",\"CallId\":\"c" + call + "\"}";
        append_post(out, "/api/Cti/Events", body_);
        break;
    }
  }

  std::vector<agent> agents_;
  std::deque<std::uint32_t> ready_;
  std::vector<std::uint32_t> parked_;
  std::uint64_t call_limit_ = ~std::uint64_t{0};
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> draw_{0.0, 1.0};
  double screen_;
  double duplicate_;
  std::atomic<std::uint64_t> calls_{0};
  std::string body_;
};

} // namespace rapi::bench
