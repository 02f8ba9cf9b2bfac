// O6.1: atomic_output_file replaces its target only on commit(); a failure, a destruction
// without commit or a signal leaves the target byte for byte as it was.
#include <k8snetio/io/output/atomic_file.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace test_output_atomic_file {

namespace {

namespace fs = std::filesystem;
using k8snetio::io::atomic_output_file;

/// A fresh, empty directory under the system's temporary directory, removed at the end.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    std::string pattern = (fs::temp_directory_path() / "k8snetio-atomic-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(path)) out.push_back(entry.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

}  // namespace

TEST_CASE("O6.1 commit replaces the target; until then it is untouched") {
  scratch_dir dir;
  const fs::path target = dir.path / "baseline.csv";
  put(target, "old contents\n");
  ::chmod(target.c_str(), 0640);

  auto file = atomic_output_file::create(target.string());
  REQUIRE(file.has_value());
  CHECK(file->atomic());
  const std::string temp = file->temporary_path();
  CHECK(fs::path(temp).parent_path() == dir.path);  // same directory: rename is atomic
  file->write("new ");
  file->write(std::string(200000, 'x'));  // more than the buffer
  file->write("\n");
  CHECK(slurp(target) == "old contents\n");
  REQUIRE(file->commit().has_value());
  CHECK(slurp(target) == "new " + std::string(200000, 'x') + "\n");
  CHECK_FALSE(fs::exists(temp));
  CHECK(dir.names() == std::vector<std::string>{"baseline.csv"});
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);  // the replaced file's permissions are kept
}

TEST_CASE("O6.1 without commit the target is left as it was and no temporary file remains") {
  scratch_dir dir;
  const fs::path target = dir.path / "out.jsonl";
  put(target, "precious\n");
  SECTION("destroyed") {
    {
      auto file = atomic_output_file::create(target.string());
      REQUIRE(file.has_value());
      file->write(std::string(100000, 'y'));
    }
  }
  SECTION("abandoned, then committed: nothing to commit") {
    auto file = atomic_output_file::create(target.string());
    REQUIRE(file.has_value());
    file->write("half");
    file->abandon();
    CHECK_FALSE(file->commit().has_value());
  }
  SECTION("moved from, the moved-to one destroyed") {
    auto file = atomic_output_file::create(target.string());
    REQUIRE(file.has_value());
    atomic_output_file other = std::move(*file);
    other.write("x");
  }
  CHECK(slurp(target) == "precious\n");
  CHECK(dir.names() == std::vector<std::string>{"out.jsonl"});
}

TEST_CASE("O6.1 a new file is created only on commit") {
  scratch_dir dir;
  const fs::path target = dir.path / "new.csv";
  auto file = atomic_output_file::create(target.string());
  REQUIRE(file.has_value());
  file->write("a,b\n");
  CHECK_FALSE(fs::exists(target));
  REQUIRE(file->commit().has_value());
  CHECK(slurp(target) == "a,b\n");
}

TEST_CASE("O6.1 errors name the file and leave nothing behind") {
  scratch_dir dir;
  SECTION("a directory that does not exist") {
    const auto file = atomic_output_file::create((dir.path / "no-such-dir" / "x.csv").string());
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().error_number == ENOENT);
    CHECK_THAT(file.error().what(), Catch::Contains("cannot create a temporary file in") &&
                                        Catch::Contains("no-such-dir"));
  }
  SECTION("a directory as the target") {
    const auto file = atomic_output_file::create(dir.path.string());
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().error_number == EISDIR);
  }
  SECTION("a full device: written in place, the failure reported at commit") {
    auto file = atomic_output_file::create("/dev/full");
    REQUIRE(file.has_value());
    CHECK_FALSE(file->atomic());
    file->write("lost");
    const auto done = file->commit();
    REQUIRE_FALSE(done.has_value());
    CHECK(done.error().error_number == ENOSPC);
  }
  CHECK(dir.names().empty());
}

TEST_CASE("O6.1 devices are written in place and links are followed, not replaced") {
  scratch_dir dir;
  SECTION("/dev/null") {
    auto file = atomic_output_file::create("/dev/null");
    REQUIRE(file.has_value());
    CHECK_FALSE(file->atomic());
    file->write("discarded");
    CHECK(file->commit().has_value());
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
  SECTION("a symbolic link to the real file") {
    fs::create_directory(dir.path / "real");
    put(dir.path / "real" / "table.csv", "old\n");
    fs::create_symlink(dir.path / "real" / "table.csv", dir.path / "link.csv");
    auto file = atomic_output_file::create((dir.path / "link.csv").string());
    REQUIRE(file.has_value());
    file->write("new\n");
    REQUIRE(file->commit().has_value());
    CHECK(fs::is_symlink(dir.path / "link.csv"));
    CHECK(slurp(dir.path / "real" / "table.csv") == "new\n");
    CHECK(fs::directory_iterator(dir.path / "real")->path().filename() == "table.csv");
  }
}

TEST_CASE("O6.1 SIGTERM during a write removes the temporary file and keeps the target") {
  scratch_dir dir;
  const fs::path target = dir.path / "baseline.csv";
  put(target, "the good baseline\n");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the child: dies of SIGTERM in the middle of its output
    k8snetio::io::remove_temporary_outputs_on_signal();
    auto file = atomic_output_file::create(target.string());
    if (!file) ::_exit(3);
    file->write(std::string(300000, 'z'));
    ::raise(SIGTERM);
    ::_exit(4);  // not reached
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  CHECK(slurp(target) == "the good baseline\n");
  CHECK(dir.names() == std::vector<std::string>{"baseline.csv"});
}

}  // namespace test_output_atomic_file
