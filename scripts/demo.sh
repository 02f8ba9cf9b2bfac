#!/usr/bin/env bash
# The project's demo: builds the examples in Release (build/release) and runs the k8s-netio
# program's demo, or, until that program exists, the quickstart example. Extra arguments go to
# the program. Works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
mkdir -p build/release
log=build/release/demo-build.log
echo "demo: building the examples (Release, build/release; log in $log)"
if ! { cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DK8SNETIO_EXAMPLES=ON \
         -DK8SNETIO_TEST=OFF -DK8SNETIO_BENCHMARKS=OFF -DK8SNETIO_INSTALL=OFF \
         -DK8SNETIO_FUZZ=OFF -DK8SNETIO_SANITIZE= &&
       cmake --build build/release; } >"$log" 2>&1; then
  cat "$log"
  echo "demo: the build failed" >&2
  exit 1
fi

if [[ -x build/release/examples/k8s-netio/k8s-netio ]]; then
  exec build/release/examples/k8s-netio/k8s-netio demo "$@"
elif [[ -x build/release/examples/quickstart ]]; then
  exec build/release/examples/quickstart "$@"
fi
echo "demo: no program to run yet (neither examples/k8s-netio/ nor examples/quickstart.cpp)" >&2
exit 1
