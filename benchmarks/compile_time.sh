#!/usr/bin/env bash
# library.md A4: what a user's translation unit costs to compile, header-only, as it is today:
#   1. a TU that includes what it uses and runs the detector over points (engine/detector.hpp,
#      rules/anomalous_network_io.hpp: tests/find-package-test/core_consumer.cpp) at -O2;
#   2. the same in a compiled mode (a k8snetio::compiled target): not built yet, so "n/a";
#   3. a TU that includes the umbrella header <k8snetio/k8snetio.hpp> alone, at -O2.
# Each is the best of RUNS compiles (-c, no ccache), wall clock and the compiler's CPU time
# (user + sys, steadier on a busy machine), with the machine and date, so that figures can go
# to benchmarks/README.md. Run it on an idle machine.
#   bash benchmarks/compile_time.sh [CXX] [RUNS]
set -euo pipefail
cxx=${1:-g++} runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#include <k8snetio/k8snetio.hpp>\nint main() {}\n' >"$work/umbrella.cpp"

best() {  # best of $runs compiles of $1 at -O2: "wall s (CPU s)", CPU = the compiler's user+sys
  local best_wall="" best_cpu="" line wall cpu
  for ((i = 0; i < runs; i++)); do
    line=$( { /usr/bin/time -f '%e %U %S' "$cxx" -std=c++20 -O2 -I"$root/include" -c "$1" \
              -o "$work/out.o"; } 2>&1 | tail -1)
    read -r wall user sys <<<"$line"
    cpu=$(echo "$user + $sys" | bc)
    if [[ -z $best_wall ]] || (($(echo "$wall < $best_wall" | bc))); then best_wall=$wall; fi
    if [[ -z $best_cpu ]] || (($(echo "$cpu < $best_cpu" | bc))); then best_cpu=$cpu; fi
  done
  printf '%.1f s wall (%.1f s CPU)' "$best_wall" "$best_cpu"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d); $("$cxx" --version | head -1)"
echo "A4.1 detector TU, header-only, -O2:  $(best "$root/tests/find-package-test/core_consumer.cpp") (target: at most 10 s)"
echo "A4.2 detector TU, compiled mode:     n/a (no k8snetio::compiled target yet; target: at most 5 s)"
echo "A4.3 umbrella header alone, -O2:     $(best "$work/umbrella.cpp") (target: at most 1.5 s in compiled mode)"
