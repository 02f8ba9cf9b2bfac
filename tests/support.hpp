// Helpers shared by the test files: metric points that own their strings and a sink that
// collects them, whole files read into strings (the fixtures under tests/data among them), and
// temporary files and folders removed at the end.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <k8snetio/detail/to_text.hpp>
#include <k8snetio/error.hpp>
#include <k8snetio/model/metric_point.hpp>

// tests/data, relative to the folder of the test binary (or absolute): relative, the compile
// command is the same in every clone, so ccache reuses one clone's objects in another.
#ifndef K8SNETIO_TEST_DATA_DIR
#error "K8SNETIO_TEST_DATA_DIR must name tests/data (CMake defines it)"
#endif

namespace k8snetio::test {

/// A6: what a refused result says, "[k8snetio.error.NNN] where: what" ("" when it was not
/// refused), for CHECK_THAT(refusal(...), Catch::Contains(...)).
template <class Result>
std::string refusal(const Result& r) {
  return r ? std::string() : r.error().what();
}

/// A6: the result was refused with `code` (a damaged snapshot unless said otherwise).
template <class Result>
bool refused(const Result& r, error_code code = error_code::bad_snapshot) {
  return !r && r.error().code == code;
}

/// A metric point that owns its strings (a reader's views die after the sink call).
struct owned_point {
  double time = 0;
  double value = 0;
  std::string metric_name, cluster, pod, node, direction;
  bool operator==(const owned_point&) const = default;
};

inline owned_point own(const metric_point& p) {
  return {p.time,
          p.value,
          std::string(p.metric_name),
          std::string(p.cluster),
          std::string(p.pod),
          std::string(p.node),
          std::string(p.direction)};
}

/// Every field of a point, owned: owned_point's and the I3.3 context. The readers' own tests
/// compare these; tests of formats that carry different context compare owned_points.
struct full_point : owned_point {
  std::string namespace_name, pod_uid;
  bool operator==(const full_point&) const = default;
};

inline full_point own_all(const metric_point& p) {
  return {own(p), std::string(p.namespace_name), std::string(p.pod_uid)};
}

/// For Catch2's messages: the fields in order, numbers as fmt's "{}" prints them.
inline std::ostream& operator<<(std::ostream& os, const full_point& p) {
  return os << detail::concat('{', p.time, ' ', p.value, ' ', p.metric_name, ' ', p.cluster, ' ',
                              p.pod, ' ', p.node, ' ', p.direction, ' ', p.namespace_name, ' ',
                              p.pod_uid, '}');
}

/// A reader's sink that keeps a copy of every point, in order.
struct point_collector {
  std::vector<owned_point> points;
  void operator()(const metric_point& p) { points.push_back(own(p)); }
};

/// The whole content of the file at `path`; the test fails if it cannot be opened.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// tests/data: K8SNETIO_TEST_DATA_DIR, resolved against the test binary's folder if relative.
inline const std::string& data_dir() {
  static const std::string dir = [] {
    std::filesystem::path p(K8SNETIO_TEST_DATA_DIR);
    if (p.is_relative()) p = std::filesystem::read_symlink("/proc/self/exe").parent_path() / p;
    return p.lexically_normal().string();
  }();
  return dir;
}

/// The path of the fixture `name` in tests/data.
inline std::string fixture_path(std::string_view name) {
  return data_dir() + "/" + std::string(name);
}

/// The whole content of the fixture `name` in tests/data.
inline std::string read_fixture(std::string_view name) { return read_file(fixture_path(name)); }

/// Writes `bytes` to `path`, replacing what was there; the test fails if that does not work.
inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// A fresh folder under the system's temporary one, removed with its content at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("k8snetio-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(std::string_view name) const { return (path / name).string(); }
};

/// A file holding `bytes`, named `name` in a temporary folder of its own, removed at the end.
struct temp_file {
  temp_dir dir;
  std::string path;
  explicit temp_file(std::string_view bytes, std::string_view name = "data")
      : path(dir.file(name)) {
    write_file(path, bytes);
  }
};

/// A point a test makes, owning its strings, for the engine's default metric (no metric name).
struct test_point {
  double time, value;
  std::string cluster, pod, node, direction;
};

/// The engines' views of `points`, which must outlive them.
inline std::vector<metric_point> views(const std::vector<test_point>& points) {
  std::vector<metric_point> out;
  out.reserve(points.size());
  for (const auto& p : points)
    out.push_back({p.time, p.value, "", p.cluster, p.pod, p.node, p.direction});
  return out;
}

}  // namespace k8snetio::test
