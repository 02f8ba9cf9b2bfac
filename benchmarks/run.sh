#!/usr/bin/env bash
# The benchmark command: builds (Release) and runs every benchmarks/bench_*.cpp program, then
# compare_duckdb.sh (k8s-netio against DuckDB end to end), and prints the machine it ran on.
#
#   benchmarks/run.sh [--quick] [--no-duckdb] [--filter REGEX] [--build DIR] [-- COMPARE_ARGS...]
#
# --quick: short benchmark runs and a 200-pod comparison (a smoke test, not figures to quote).
# --no-duckdb: the in-process benchmarks only. --filter: a Google Benchmark filter.
# Arguments after `--` go to compare_duckdb.sh (e.g. -- --runs 5).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$repo/build/bench
quick=0 duckdb=1 filter=""
compare_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --no-duckdb) duckdb=0; shift ;;
    --filter) filter=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; compare_args=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

machine() {
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"\
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo),"\
       "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DK8SNETIO_TEST=OFF \
    -DK8SNETIO_INSTALL=OFF -DK8SNETIO_BENCHMARKS=ON >&2
fi
targets=(k8s-netio)
for f in "$here"/bench_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)" >&2

machine
bench_args=(--benchmark_counters_tabular=true)
[ "$quick" = 1 ] && bench_args+=(--benchmark_min_time=0.05)
[ -n "$filter" ] && bench_args+=("--benchmark_filter=$filter")
for target in "${targets[@]:1}"; do
  echo
  echo "== $target"
  "$build/benchmarks/$target" "${bench_args[@]}"
done

if [ "$duckdb" = 1 ]; then
  echo
  echo "== compare_duckdb.sh"
  quick_args=()
  [ "$quick" = 1 ] && quick_args=(--pods 200)
  "$here/compare_duckdb.sh" --k8s-netio "$build/examples/k8s-netio/k8s-netio" \
    "${quick_args[@]+"${quick_args[@]}"}" "${compare_args[@]+"${compare_args[@]}"}"
fi
echo
machine
