#include "storage/memory_store.hpp"

namespace rapi {

storage_status memory_store::write(const write_batch& batch) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fail_writes)
    return {"IO error: No space left on device (simulated)"};
  for (auto& op : batch.ops) {
    if (op.erase)
      data_.erase(op.key);
    else
      data_[op.key] = op.value;
  }
  return {};
}

std::optional<std::string> memory_store::get(std::string_view key,
                                             storage_status&) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = data_.find(key);
  if (it == data_.end())
    return std::nullopt;
  return it->second;
}

storage_status memory_store::scan(
  std::string_view prefix, std::string_view from,
  const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::vector<std::pair<std::string, std::string>> hits;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto it = data_.lower_bound(from.empty() ? prefix : from);
         it != data_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
         ++it)
      hits.emplace_back(it->first, it->second);
  }
  for (auto& [k, v] : hits)
    if (!fn(k, v))
      break;
  return {};
}

std::size_t memory_store::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return data_.size();
}

} // namespace rapi
