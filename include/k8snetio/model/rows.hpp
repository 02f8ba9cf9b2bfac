// The rows that flow between the stages, in pipeline order: span_row (D1) → service_row (D2)
// → measure_row (D3/R1: one bucket of one pod, or of one service for R5) → looked_up_row (D5).
// Rows carry string views; whoever made a row keeps its strings alive.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spl_values.hpp"

namespace k8snetio {

/// One D1 row: the mean of one series' points in one bucket.
struct span_row {
  std::string_view cluster;
  std::string_view pod;
  std::string_view node;
  std::string_view direction;
  std::int64_t time = 0;  ///< bucket start, epoch seconds (D1.5)
  double io = 0;          ///< mean of the bucket's points (D1.4)
  friend bool operator==(const span_row&, const span_row&) = default;
};

/// A D1 row with its service (D2).
struct service_row : span_row {
  std::string_view service;
  friend bool operator==(const service_row&, const service_row&) = default;
};

/// One pivoted bucket (D3): the measures of a rule, in the order of its measure_set. For the
/// per-service pivot of R5, `node` and `pod` are empty.
template <std::size_t N>
struct measure_row {
  std::string_view cluster;
  std::string_view node;
  std::string_view pod;
  std::string_view service;
  std::int64_t time = 0;
  std::array<spl_number, N> values{};
  friend bool operator==(const measure_row&, const measure_row&) = default;
};

template <std::size_t N>
struct baseline_entry;

/// A measure row with its baseline (D5); `baseline` is null when the key has no row (D5.2).
template <std::size_t N>
struct looked_up_row {
  measure_row<N> row;
  const baseline_entry<N>* baseline = nullptr;
};

}  // namespace k8snetio
