#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run). A format check, then three stages,
# each must pass:
#   1. release: g++, RelWithDebInfo (-O2, -g1), everything built; all ctest cases, package.*
#      included
#   2. sanitizers: AddressSanitizer + UBSan (clang++-14 if present, else g++), Debug at -O1
#      (-g1) with asserts on; all ctest cases but package.* and compile_error.* (they only parse)
#   3. fuzz: with clang++-14, each fuzz/fuzz_*.cpp target runs on a copy of its seed corpus
#      fuzz/corpus/<name>/ for a share of K8SNETIO_FUZZ_SECONDS (default 60) seconds
# Works from any directory; builds under build/ci-*.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() { printf '\n======== %s ========\n' "$*"; }

section "dependencies"
bash scripts/install-deps.sh
cmake --version | head -n 1

# Warnings are errors here (not in a user's build); ccache, when present, makes a rebuild cheap.
# -g1 (line tables: a sanitizer's or a debugger's backtrace still names file and line) instead of
# -g: full debug info of this template-heavy code took a third of the compile time.
common=(-G Ninja -DK8SNETIO_WERROR=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
if command -v ccache >/dev/null; then
  common+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout in ccache's hashes, so that a fresh clone elsewhere hits the
  # cache that an earlier build of the same sources filled.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
fi

section "format: clang-format-14 --dry-run --Werror over every C++ file (.clang-format)"
# Before any build, so that a badly formatted change fails in seconds, not after a compile.
if command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t cxx_files < <(git ls-files '*.hpp' '*.cpp')
else
  mapfile -t cxx_files < <(find include examples tests benchmarks fuzz -name '*.[hc]pp' | sort)
fi
if ! clang-format-14 --dry-run --Werror "${cxx_files[@]}"; then
  echo "FAILED: the files above are not formatted; run: clang-format-14 -i \$(git ls-files '*.hpp' '*.cpp')"
  exit 1
fi
echo "${#cxx_files[@]} files formatted"

section "1/3 release build: g++, RelWithDebInfo (build/ci-release)"
cmake -S . -B build/ci-release "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=g++ -DK8SNETIO_FUZZ=OFF -DK8SNETIO_SANITIZE= -DK8SNETIO_COMPILED=ON
cmake --build build/ci-release
ctest --test-dir build/ci-release --output-on-failure -j2 --timeout 300

if command -v clang++-14 >/dev/null; then sanitizer_cxx=clang++-14; else sanitizer_cxx=g++; fi
section "2/3 sanitizer build: address,undefined with $sanitizer_cxx (build/ci-asan)"
cmake -S . -B build/ci-asan "${common[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" \
  -DCMAKE_CXX_COMPILER="$sanitizer_cxx" -DK8SNETIO_SANITIZE=address,undefined \
  -DK8SNETIO_BENCHMARKS=OFF -DK8SNETIO_FUZZ=OFF
cmake --build build/ci-asan
ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/ci-asan --output-on-failure -j2 --timeout 300 -E '^(package|compile_error)\.'

section "3/3 fuzz: libFuzzer with clang++-14 (build/ci-fuzz)"
shopt -s nullglob
fuzz_sources=(fuzz/fuzz_*.cpp)
shopt -u nullglob
if ! command -v clang++-14 >/dev/null; then
  echo "skipped: clang++-14 is not installed"
elif ((${#fuzz_sources[@]} == 0)); then
  echo "skipped: no fuzz/fuzz_*.cpp targets yet"
else
  cmake -S . -B build/ci-fuzz "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DK8SNETIO_FUZZ=ON -DK8SNETIO_TEST=OFF \
    -DK8SNETIO_EXAMPLES=OFF -DK8SNETIO_BENCHMARKS=OFF -DK8SNETIO_INSTALL=OFF -DK8SNETIO_SANITIZE=
  cmake --build build/ci-fuzz
  seconds=$((${K8SNETIO_FUZZ_SECONDS:-60} / ${#fuzz_sources[@]}))
  ((seconds >= 5)) || seconds=5
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p build/ci-fuzz/artifacts
  for source in "${fuzz_sources[@]}"; do
    name=$(basename "$source" .cpp)
    corpus="$work/$name"  # a copy: libFuzzer adds to its corpus, the repository stays as it is
    mkdir -p "$corpus"
    if [[ -d fuzz/corpus/$name ]]; then cp -R "fuzz/corpus/$name/." "$corpus/"; fi
    options=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1
             -artifact_prefix="build/ci-fuzz/artifacts/$name-")
    if [[ -f fuzz/$name.dict ]]; then options+=(-dict="fuzz/$name.dict"); fi
    echo "-- $name: ${seconds}s on $(find "$corpus" -type f | wc -l) seed inputs"
    if ! "build/ci-fuzz/fuzz/$name" "${options[@]}" "$corpus" >"$work/$name.log" 2>&1; then
      tail -n 100 "$work/$name.log"
      echo "FAILED: fuzz target $name (the crashing input is in build/ci-fuzz/artifacts/)"
      exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$name.log" || true
  done
fi

section "all stages passed"
