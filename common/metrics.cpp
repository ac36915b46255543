#include "common/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace rapi {

void histogram::observe_us(std::int64_t micros) {
  if (micros < 0)
    micros = 0;
  double s = static_cast<double>(micros) / 1e6;
  std::size_t i = 0;
  while (i < bounds.size() && s > bounds[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(micros),
                    std::memory_order_relaxed);
}

namespace {

std::string format_double(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string with_le(std::string_view labels, const std::string& le) {
  std::string l(labels);
  if (!l.empty())
    l += ",";
  l += "le=\"" + le + "\"";
  return l;
}

} // namespace

void histogram::append(std::string& out, std::string_view name,
                       std::string_view labels) const {
  std::uint64_t cumulative = 0;
  std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    append_sample(out, bucket, with_le(labels, format_double(bounds[i])),
                  static_cast<double>(cumulative));
  }
  cumulative += buckets_[bounds.size()].load(std::memory_order_relaxed);
  append_sample(out, bucket, with_le(labels, "+Inf"),
                static_cast<double>(cumulative));
  append_sample(out, std::string(name) + "_sum", labels,
                static_cast<double>(sum_us_.load()) / 1e6);
  append_sample(out, std::string(name) + "_count", labels,
                static_cast<double>(cumulative));
}

void append_metric_header(std::string& out, std::string_view name,
                          std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  out += help;
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type;
  out.push_back('\n');
}

void append_sample(std::string& out, std::string_view name,
                   std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out.push_back('{');
    out += labels;
    out.push_back('}');
  }
  out.push_back(' ');
  out += format_double(value);
  out.push_back('\n');
}

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

} // namespace rapi
