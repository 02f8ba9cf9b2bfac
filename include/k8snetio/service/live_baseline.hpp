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

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <k8snetio/error.hpp>
#include <k8snetio/io/baseline_csv.hpp>
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
/// hashes the file's bytes. Standard input ("-") is refused: it cannot be read again to be
/// named, and a state must name its baseline.
template <std::size_t N = 2>
[[nodiscard]] result<live_baseline<N>> load_live_baseline(const std::string& path,
                                                          const rule_definition<N>& rule) {
  if (path == "-")
    return make_error(error_code::bad_option, path, 0,
                      "a live service's baseline must be a file: its bytes name the state "
                      "written for it, and standard input cannot be read again");
  auto table = io::load_baseline_csv<N>(path, *rule.measures);
  if (!table) return tl::unexpected(table.error());
  std::FILE* in = std::fopen(path.c_str(), "rbe");
  if (!in)
    return make_error(error_code::cannot_open, path, 0,
                      std::string("cannot open again to name the state: ") + std::strerror(errno));
  std::uint64_t h = fnv1a64({});
  char block[65536];
  std::size_t got = 0;
  while ((got = std::fread(block, 1, sizeof block, in)) > 0)
    h = fnv1a64(std::string_view(block, got), h);
  const bool failed = std::ferror(in) != 0;
  std::fclose(in);
  if (failed) return make_error(error_code::read_failed, path, 0, "read failed");
  return live_baseline<N>{std::move(*table), h};
}

}  // namespace k8snetio::service
