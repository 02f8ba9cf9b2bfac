// The glue that lets a stage read as a verb in a left-to-right pipeline:
// `rows | aggregate_spans(opts) | pivot_direction(rule)`. A stage adaptor is a function object
// over a range; `|` applies it. Lazy stages are range-v3 views; group-by stages are eager.
// As range-v3's view closures do, adaptors compose before any range is given:
// `auto d1_d2 = aggregate_spans() | normalize_service();` then `points | d1_d2`. They compose
// with range-v3's view closures too (`aggregate_spans() | ranges::views::take(10)`).
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>

#include <range/v3/range/concepts.hpp>
#include <range/v3/view/view.hpp>

namespace k8snetio::detail {

template <class F>
struct stage_closure;

template <class F>
constexpr stage_closure<std::decay_t<F>> make_stage(F&& f) {
  return {std::forward<F>(f)};
}

template <class F>
struct stage_closure {
  F apply;

  /// `range | stage`: applies the stage.
  template <ranges::input_range R>
  requires std::invocable<const F&, R>
  friend decltype(auto) operator|(R&& rng, const stage_closure& self) {
    return self.apply(std::forward<R>(rng));
  }

  /// `stage | stage`: a stage that applies the left one, then the right one.
  template <class G>
  friend constexpr auto operator|(stage_closure self, stage_closure<G> next) {
    return make_stage([first = std::move(self), then = std::move(next)]<class R>(R&& rng) {
      return std::forward<R>(rng) | first | then;
    });
  }

  /// `stage | range-v3 view closure` and `range-v3 view closure | stage`.
  template <class V>
  friend constexpr auto operator|(stage_closure self, ranges::views::view_closure<V> next) {
    return make_stage([first = std::move(self), then = std::move(next)]<class R>(R&& rng) {
      return std::forward<R>(rng) | first | then;
    });
  }
  template <class V>
  friend constexpr auto operator|(ranges::views::view_closure<V> first, stage_closure self) {
    return make_stage([first = std::move(first), then = std::move(self)]<class R>(R&& rng) {
      return std::forward<R>(rng) | first | then;
    });
  }
};

}  // namespace k8snetio::detail
