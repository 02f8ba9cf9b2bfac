#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the demo need and the
# machine lacks. Idempotent and quiet: it touches apt only when a package is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libfmt-dev librange-v3-dev libexpected-dev  # the library's dependencies
  catch2 libpcre2-dev                          # tests
  libcli11-dev libsimdjson-dev zlib1g-dev      # the k8s-netio program, tests, examples
  libbenchmark-dev                             # benchmarks
  clang-14 libclang-rt-14-dev                  # sanitizer and fuzz builds in scripts/test.sh
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
((EUID == 0)) || sudo=(sudo)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
