// L6: the baseline table a live service scores against, and the name its state is written under.
// A state written for another baseline is refused on restart; the baseline is named by FNV-1a 64
// of its file's bytes as stored (compressed, if it is), so a state taken by an earlier release
// under the same file is still accepted.
//
//     auto baseline = k8snetio::service::load_live_baseline<2>("baseline.csv", rule);
//     if (!baseline) … baseline.error().what() …;
//     k8snetio::service::live_detector<2> live(rule, std::move(baseline->table), options, sink,
//                                              {"io", baseline->hash});
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <k8snetio/error.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/model/rule_definition.hpp>
#include <k8snetio/service/live_detector.hpp>

namespace k8snetio::service {

template <std::size_t N = 2>
struct live_baseline {
  baseline_table<N> table;
  std::uint64_t hash = 0;  ///< fnv1a64 of the file's bytes as stored: live_identity::baseline_hash
};

/// Loads the table at `path` for `rule` (io::load_baseline_csv: gzip and zstd recognised) and
/// hashes the file's bytes as they are read, in the same pass (a file that changes size while
/// it loads is an error). A file rewritten in place at the same size during the load may still
/// give a table and a name of different bytes, as for any reader of a file being written:
/// replace a baseline by renaming a new file over it. Standard input ("-") is refused: a state
/// must name its baseline, and a restart could not read standard input again to check it.
template <std::size_t N = 2>
[[nodiscard]] result<live_baseline<N>> load_live_baseline(const std::string& path,
                                                          const rule_definition<N>& rule) {
  if (path == "-")
    return make_error(error_code::bad_option, path, 0,
                      "a live service's baseline must be a file: its bytes name the state "
                      "written for it, and standard input cannot be read again");
  auto in = io::input_source::open(path);
  if (!in) return tl::unexpected(in.error());
  std::uint64_t h = fnv1a64({});
  in->observe_stored([&h](std::string_view bytes) { h = fnv1a64(bytes, h); });
  auto table = io::load_baseline_csv<N>(*in, *rule.measures);
  if (!table) return tl::unexpected(table.error());
  return live_baseline<N>{std::move(*table), h};
}

}  // namespace k8snetio::service
