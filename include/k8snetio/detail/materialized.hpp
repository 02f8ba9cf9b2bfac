// The result of an eager (group-by) stage as a view: its rows plus whatever upstream storage
// their string views point into, shared so that the view is cheap to copy and can flow on
// through lazy range adaptors.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <range/v3/range/concepts.hpp>
#include <range/v3/view/interface.hpp>

namespace k8snetio::detail {

template <class Row>
class materialized : public ranges::view_interface<materialized<Row>> {
 public:
  materialized() = default;
  materialized(std::vector<Row> rows, std::shared_ptr<const void> keep_alive)
      : state_(std::make_shared<state>(state{std::move(rows), std::move(keep_alive)})) {}

  const Row* begin() const { return state_ ? state_->rows.data() : nullptr; }
  const Row* end() const { return state_ ? state_->rows.data() + state_->rows.size() : nullptr; }
  const std::vector<Row>& rows() const {
    static const std::vector<Row> none;
    return state_ ? state_->rows : none;
  }

 private:
  struct state {
    std::vector<Row> rows;
    std::shared_ptr<const void> keep_alive;
  };
  std::shared_ptr<const state> state_;
};

/// Keeps an rvalue view alive (it may own the strings its rows point into); an lvalue range
/// is the caller's to keep.
template <class R>
auto hold(R&& rng) {
  using V = std::remove_cvref_t<R>;
  if constexpr (!std::is_lvalue_reference_v<R> && ranges::view_<V>) {
    auto owned = std::make_shared<V>(std::forward<R>(rng));
    V* source = owned.get();
    return std::pair<std::shared_ptr<const void>, V*>(std::move(owned), source);
  } else {
    return std::pair<std::shared_ptr<const void>, std::remove_reference_t<R>*>(nullptr, &rng);
  }
}

}  // namespace k8snetio::detail
