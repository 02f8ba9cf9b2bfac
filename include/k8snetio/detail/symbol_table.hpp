// Interned strings: each distinct dimension value is stored once and named by a small integer,
// so per-point work compares integers and rows carry views that stay valid as long as the table.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace k8snetio::detail {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

/// Maps strings to dense ids. Views returned by `view` and `intern` stay valid for the table's
/// lifetime (the strings live in a deque, which never relocates its elements).
class symbol_table {
 public:
  std::uint32_t intern(std::string_view s) {
    if (auto it = ids_.find(s); it != ids_.end()) return it->second;
    auto id = static_cast<std::uint32_t>(strings_.size());
    const std::string& stored = strings_.emplace_back(s);
    ids_.emplace(std::string_view(stored), id);
    return id;
  }
  std::string_view view(std::uint32_t id) const { return strings_[id]; }
  std::size_t size() const noexcept { return strings_.size(); }

 private:
  std::deque<std::string> strings_;
  std::unordered_map<std::string_view, std::uint32_t, string_hash, std::equal_to<>> ids_;
};

}  // namespace k8snetio::detail
