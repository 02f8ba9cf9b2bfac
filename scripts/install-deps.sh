#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the demo need and the
# machine lacks. Idempotent and quiet: it touches apt only when a package is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libfmt-dev librange-v3-dev libexpected-dev libpcre2-dev  # the library (k8snetio::core)
  catch2                                       # tests
  python3-protobuf protobuf-compiler           # tests: the OTLP protobuf twins' encoder
  libsimdjson-dev zlib1g-dev libzstd-dev libprotozero-dev  # readers (k8snetio::io)
  libcli11-dev                                 # the k8s-netio program
  librdkafka-dev                               # k8s-netio consume and its mock-cluster tests
  libboost-dev libssl-dev libgrpc++-dev        # serve's transports: Beast/Asio, TLS, OTLP/gRPC
  openssl python3-grpcio                       # tests: certificates, a gRPC client of its own
  libbenchmark-dev                             # benchmarks
  clang-14 libclang-rt-14-dev                  # sanitizer and fuzz builds in scripts/test.sh
  ccache clang-format-14                       # faster rebuilds; the format check
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
