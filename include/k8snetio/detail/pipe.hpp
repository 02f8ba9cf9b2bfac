// The glue that lets a stage read as a verb in a left-to-right pipeline:
// `rows | aggregate_spans(opts) | pivot_direction()`. A stage adaptor is a function object
// over a range; `|` applies it. Lazy stages are range-v3 views; group-by stages are eager.
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>

#include <range/v3/range/concepts.hpp>

namespace k8snetio::detail {

template <class F>
struct stage_closure {
  F apply;

  template <ranges::input_range R>
  requires std::invocable<const F&, R>
  friend decltype(auto) operator|(R&& rng, const stage_closure& self) {
    return self.apply(std::forward<R>(rng));
  }
};

template <class F>
constexpr stage_closure<std::decay_t<F>> make_stage(F&& f) {
  return {std::forward<F>(f)};
}

}  // namespace k8snetio::detail
