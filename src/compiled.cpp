// library.md A4, compiled mode: the k8snetio::compiled target. The engines of the shipped rules
// (rule_definition<2> over a baseline_table<2>: anomalous_network_io, network_io_ratio, and any
// user rule of two measures) are instantiated here once, as fmt's and spdlog's compiled
// libraries compile their formatting and logging once. A translation unit built with
// K8SNETIO_COMPILED (which the target adds to its users) sees `extern template` declarations of
// these instantiations and compiles none of their members; a rule of another number of
// measures, or another baseline store, still instantiates from the headers.
#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/engine/rolling_baseline.hpp>
#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/stages/kernel/baseline_builder.hpp>

#if !defined(K8SNETIO_COMPILED)
#error "src/compiled.cpp is built by the k8snetio::compiled target, which defines K8SNETIO_COMPILED"
#endif

namespace k8snetio {

template class baseline_builder<2>;
template class baseline_runner<2>;
template class detector<2, baseline_table<2>>;
template class rolling_baseline<2>;
template class daily_baseline_runner<2>;
template class baseline_learner<2>;

}  // namespace k8snetio
