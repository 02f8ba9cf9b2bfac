// L8, K6 — a live rolling baseline: the baseline search (B1–B7) of what a live engine receives,
// kept per UTC day (S6). Each day is read by its own baseline_runner under the live watermark
// (S1.3, the same allowed lateness as the detector's, measured on every day's points together);
// a day is complete, folded and added to the rolling baseline, once no point of it can be
// accepted any more (the newest bucket is the lateness past the day's end). The table of the
// complete days within the horizon is then that of `baseline` over those days.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/to_text.hpp"

#include "../detail/snapshot.hpp"
#include "../model/drop_reason.hpp"
#include "../model/metric_point.hpp"
#include "../model/rule_definition.hpp"
#include "baseline_runner.hpp"
#include "rolling_baseline.hpp"

namespace k8snetio {

template <std::size_t N>
class baseline_learner {
 public:
  /// `options.span.allowed_lateness` must be set (the live watermark); the span must divide a
  /// day. Throws std::invalid_argument otherwise.
  baseline_learner(const rule_definition<N>& rule, baseline_run_options options,
                   rolling_baseline_options rolling = {})
      : rule_(rule), options_(std::move(options)), rolling_(rule_, options_, rolling) {
    if (!options_.span.allowed_lateness || *options_.span.allowed_lateness < 0)
      throw std::invalid_argument("baseline_learner: a live learner needs an allowed lateness");
    if (options_.span.span_seconds < 1 || seconds_per_day % options_.span.span_seconds != 0)
      throw std::invalid_argument(detail::concat(
          "baseline_learner: a span of ", options_.span.span_seconds, " s does not divide a day"));
  }

  /// One point. A point whose bucket the watermark has passed is refused as drop_reason::late
  /// (the detector, under the same lateness and the same points, refuses it too); other
  /// refusals are the day runner's (B1, D1). May complete days: see take_completed_days.
  add_outcome add(const metric_point& p) {
    if (!std::isfinite(p.time) || std::abs(p.time) > 9e15) {
      // No bucket, so no day: a runner of its own counts why (rare: only bad input).
      baseline_runner<N> undated(rule_, options_);
      const add_outcome used = undated.add(p);
      done_stats_ += undated.total_stats();
      return used;
    }
    const auto span = options_.span.span_seconds;
    const auto t = static_cast<std::int64_t>(std::floor(p.time));
    const std::int64_t bucket = t - ((t % span) + span) % span;
    if (newest_bucket_ && bucket <= *newest_bucket_ - *options_.span.allowed_lateness - span) {
      ++late_;
      return {drop_reason::late};
    }
    const std::int64_t day = utc_day_of(t);
    auto it = open_.find(day);
    if (it == open_.end())
      it = open_.emplace(day, std::make_unique<baseline_runner<N>>(rule_, options_)).first;
    const add_outcome used = note(it->second->add(p));
    if (used && (!newest_bucket_ || bucket > *newest_bucket_)) {
      newest_bucket_ = bucket;
      complete_passed_days();
    }
    return used;
  }

  /// The days completed since the last call (oldest first): each is in rolling() now.
  std::vector<std::int64_t> take_completed_days() { return std::exchange(completed_, {}); }

  /// The complete days (S6): their table is `rolling().result()`, each day saves alone
  /// (`rolling().save_day`, the files of `k8s-netio baseline --state DIR`).
  const rolling_baseline<N>& rolling() const noexcept { return rolling_; }

  /// The days still being read, oldest first.
  std::vector<std::int64_t> open_days() const {
    std::vector<std::int64_t> out;
    for (const auto& [day, runner] : open_) out.push_back(day);
    return out;
  }

  /// Points refused: late ones (S1.3), and every reason of the day runners (D1, B1).
  std::uint64_t late_points() const noexcept { return late_; }
  aggregation_stats stats() const {
    aggregation_stats s = done_stats_;
    for (const auto& [day, runner] : open_) s += runner->total_stats();
    return s;
  }

  std::string settings() const {
    return detail::concat(rolling_.settings(), ";lateness=", *options_.span.allowed_lateness,
                          ";horizon=", rolling_.rolling_options().horizon_days);
  }

  /// S4: the complete days, the open days' runners, the watermark and the counts, as one
  /// checked snapshot (kind "baseline_learner"). A learner made with the same rule and options
  /// that restores it and goes on gives what one uninterrupted learner gives.
  [[nodiscard]] std::string save_state() const {
    detail::snapshot_writer w;
    const auto days = rolling_.days();
    w.u64(days.size());
    for (const std::int64_t day : days) w.str(rolling_.save_day(day));
    w.u64(open_.size());
    for (const auto& [day, runner] : open_) {
      w.i64(day);
      w.str(runner->save_state());
    }
    w.opt_i64(newest_bucket_);
    w.u64(late_);
    done_stats_.save(w);
    w.u8(failure_ ? static_cast<std::uint8_t>(*failure_) + 1 : 0);
    return seal_snapshot("baseline_learner", settings(), w.bytes());
  }

  /// S4: continues from a snapshot of save_state. A6: an error of code bad_snapshot, and this
  /// learner kept as it was, when the snapshot is truncated, corrupt, foreign or of other
  /// settings.
  [[nodiscard]] result<void> restore_state(std::string_view snapshot) {
    return detail::restore_result([&] { restore_or_throw(snapshot); });
  }

  /// Set when a day runner could not stay exact (its memory limit): that day is then not
  /// added to the rolling baseline, and the reason stays here.
  std::optional<drop_reason> failure() const noexcept { return failure_; }

 private:
  void restore_or_throw(std::string_view snapshot) {
    detail::snapshot_reader r(open_snapshot(snapshot, "baseline_learner", settings()),
                              "baseline_learner state");
    baseline_learner b(rule_, options_, rolling_.rolling_options());
    for (std::size_t i = 0, n = r.count(8); i < n; ++i) {
      const std::int64_t day = detail::throw_if_refused(b.rolling_.restore_day(r.str()));
      if (b.rolling_.size() != i + 1)
        r.fail(detail::concat("the day ", utc_day_text(day), " twice"));
    }
    for (std::size_t i = 0, n = r.count(16); i < n; ++i) {
      const std::int64_t day = r.i64();
      auto runner = std::make_unique<baseline_runner<N>>(rule_, options_);
      detail::throw_if_refused(runner->restore_state(r.str()));
      if (!b.open_.emplace(day, std::move(runner)).second)
        r.fail(detail::concat("the open day ", day, " twice"));
    }
    b.newest_bucket_ = r.opt_i64();
    b.late_ = r.u64();
    b.done_stats_.restore(r);
    if (const std::uint8_t failure =
            r.choice(static_cast<std::uint8_t>(drop_reason::memory_limit) + 1, "the failure"))
      b.failure_ = static_cast<drop_reason>(failure - 1);
    r.expect_end();
    *this = std::move(b);
  }

  add_outcome note(add_outcome used) {
    if (!used && !failure_ && used.reason == drop_reason::memory_limit) failure_ = used.reason;
    return used;
  }

  /// Days whose last bucket the watermark has passed: no point of theirs can come any more.
  void complete_passed_days() {
    while (!open_.empty() &&
           (open_.begin()->first + 1) * seconds_per_day + *options_.span.allowed_lateness <=
               *newest_bucket_) {
      auto node = open_.extract(open_.begin());
      baseline_runner<N>& runner = *node.mapped();
      done_stats_ += runner.total_stats();
      if (!runner.failure()) {
        const baseline_builder<N>& state = runner.finish_state();
        if (!state.empty()) {
          rolling_.add_day(node.key(), state);
          completed_.push_back(node.key());
        }
      }
    }
    rolling_.drop_past_horizon();
  }

  rule_definition<N> rule_;
  baseline_run_options options_;
  rolling_baseline<N> rolling_;
  std::map<std::int64_t, std::unique_ptr<baseline_runner<N>>> open_;
  std::optional<std::int64_t> newest_bucket_;
  std::uint64_t late_ = 0;
  aggregation_stats done_stats_{};
  std::vector<std::int64_t> completed_;
  std::optional<drop_reason> failure_;
};

#if defined(K8SNETIO_COMPILED)
// A4, compiled mode (the k8snetio::compiled target): the shipped rules' instantiation is
// compiled once, in src/compiled.cpp; a user's translation unit only declares it.
extern template class baseline_learner<2>;
#endif

}  // namespace k8snetio
