// library.md A4, compiled mode: the k8snetio::compiled_io target. The writers of findings (JSON
// Lines, CSV, the terminal table, HEC, OCSF, ES risk events and the HTML report) are compiled
// here once, as fmt's and spdlog's compiled libraries compile their formatting and logging once.
// A translation unit built with K8SNETIO_COMPILED_IO (which the target adds to its users) sees
// only their declarations (io/output/writers_mode.hpp): it parses neither their bodies nor fmt.
#if !defined(K8SNETIO_COMPILED_IO)
#error \
    "src/compiled_io.cpp is built by the k8snetio::compiled_io target, which defines K8SNETIO_COMPILED_IO"
#endif

// Not inline: the one definition of each writer, which the users' translation units call.
#define K8SNETIO_IO_INLINE

#include <k8snetio/io/output/findings_writer-inl.hpp>
#include <k8snetio/io/output/html_report_writer-inl.hpp>
#include <k8snetio/io/output/risk_event_writer-inl.hpp>
