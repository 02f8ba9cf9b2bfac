#!/usr/bin/env bash
# library.md A4: what a user's translation unit costs to compile, header-only, as it is today:
#   1. a TU that includes what it uses and runs the detector over points (engine/detector.hpp,
#      rules/anomalous_network_io.hpp: tests/find-package-test/core_consumer.cpp) at -O2;
#   2. the same TU in the compiled mode (-DK8SNETIO_COMPILED, what linking k8snetio::compiled
#      adds: the engines of the shipped rules are `extern template`, compiled once in
#      src/compiled.cpp), at -O2;
#   3. a TU that includes the umbrella header <k8snetio/k8snetio.hpp> alone, at -O2, header-only
#      and in the compiled mode;
#   4. a TU that runs the detector and writes its findings in every format
#      (tests/find-package-test/writer_consumer.cpp), header-only and with k8snetio::compiled_io
#      (-DK8SNETIO_COMPILED_IO: the writers only declared, compiled once in src/compiled_io.cpp).
# And, once, what the compiled mode pays instead: src/compiled.cpp and src/compiled_io.cpp.
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

best() {  # best of $runs compiles of $1 at -O2 (more flags after it): "wall s (CPU s)", CPU = the
          # compiler's user+sys
  local best_wall="" best_cpu="" line wall cpu source=$1
  shift
  for ((i = 0; i < runs; i++)); do
    # A compile that fails stops the script: its time would mean nothing.
    if ! /usr/bin/time -o "$work/time" -f '%e %U %S' "$cxx" -std=c++20 -O2 "$@" \
         -I"$root/include" -c "$source" -o "$work/out.o"; then
      echo "compile_time.sh: $cxx failed on $source" >&2
      return 1
    fi
    read -r wall user sys <"$work/time"
    cpu=$(echo "$user + $sys" | bc)
    if [[ -z $best_wall ]] || (($(echo "$wall < $best_wall" | bc))); then best_wall=$wall; fi
    if [[ -z $best_cpu ]] || (($(echo "$cpu < $best_cpu" | bc))); then best_cpu=$cpu; fi
  done
  printf '%.1f s wall (%.1f s CPU)' "$best_wall" "$best_cpu"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d); $("$cxx" --version | head -1)"
consumer=$root/tests/find-package-test/core_consumer.cpp
# Each figure is assigned before it is printed, so that a failed compile stops the script (set -e).
figure=$(best "$consumer")
echo "A4.1 detector TU, header-only, -O2:   $figure (target: at most 10 s)"
figure=$(best "$consumer" -DK8SNETIO_COMPILED)
echo "A4.2 detector TU, compiled mode:      $figure (target: at most 5 s)"
figure=$(best "$work/umbrella.cpp")
echo "A4.3 umbrella alone, header-only:     $figure"
figure=$(best "$work/umbrella.cpp" -DK8SNETIO_COMPILED)
echo "A4.3 umbrella alone, compiled mode:   $figure (target: at most 1.5 s)"
writer=$root/tests/find-package-test/writer_consumer.cpp
figure=$(best "$writer")
echo "A4   writer TU, header-only:          $figure"
figure=$(best "$writer" -DK8SNETIO_COMPILED -DK8SNETIO_COMPILED_IO)
echo "A4   writer TU, compiled mode (io):   $figure"
runs=1
figure=$(best "$root/src/compiled.cpp" -DK8SNETIO_COMPILED)
echo "     src/compiled.cpp (once per build): $figure"
figure=$(best "$root/src/compiled_io.cpp" -DK8SNETIO_COMPILED -DK8SNETIO_COMPILED_IO)
echo "     src/compiled_io.cpp (once per build): $figure"
