#!/usr/bin/env bash
# library.md A4: heavy headers are included only by the headers that need them. Every header of
# the core component (the model, the stages, the engines, the rules, and the top-level headers
# but the umbrella) is preprocessed on its own, and none may pull in a reader's, a transport's
# or a formatter's library: simdjson, zlib, zstd, protozero, Boost, gRPC, OpenSSL, librdkafka,
# PCRE2 (the PCRE2 normalizer is a header of its own that a user includes by name), or fmt
# (the core prints its few numbers with std::to_chars, detail/to_text.hpp). And the engines,
# the rules and the stages' classes (stages/kernel/) include no range library either: range-v3
# comes only with the stages' range adaptors (stages/*.hpp), so a program that runs an engine
# does not parse it.
#   core_includes.sh REPOSITORY_ROOT [CXX]
set -u
root=${1:-.}
cxx=${2:-g++}
cd "$root/include" || exit 2
heavy='(^|/)(simdjson|zlib\.h|zstd|protozero|boost|grpc|grpcpp|openssl|librdkafka|pcre2|fmt)[/.]'
failed=0
checked=0
ranges='/range/v3/'
for header in k8snetio/error.hpp k8snetio/version.hpp k8snetio/model/*.hpp k8snetio/detail/*.hpp \
              k8snetio/stages/*.hpp k8snetio/stages/kernel/*.hpp k8snetio/engine/*.hpp \
              k8snetio/engine/detector/*.hpp k8snetio/rules/*.hpp; do
  case $header in
    k8snetio/stages/pcre2_service_normalizer.hpp) continue ;;  # PCRE2 by name, on purpose
  esac
  deps=$(echo "#include <$header>" | "$cxx" -std=c++20 -I. -x c++ -M -MG - 2>&1) || {
    echo "FAIL: $header does not preprocess on its own:"; echo "$deps" | head -5; failed=1; continue; }
  offending=$(tr ' \\' '\n\n' <<<"$deps" | grep -E "$heavy" | sort -u | head -3)
  if [[ -n $offending ]]; then
    echo "FAIL: $header includes a heavy header: $(echo $offending)"
    failed=1
  fi
  case $header in
    k8snetio/stages/kernel/* | k8snetio/engine/* | k8snetio/rules/*)
      offending=$(tr ' \\' '\n\n' <<<"$deps" | grep -E "$ranges" | sort -u | head -3)
      if [[ -n $offending ]]; then
        echo "FAIL: $header includes range-v3: $(echo $offending)"
        failed=1
      fi
      ;;
  esac
  checked=$((checked + 1))
done
# With K8SNETIO_COMPILED_IO (k8snetio::compiled_io), the writers' headers only declare the
# writers: they include no fmt (their bodies, in *-inl.hpp, are compiled into the library).
for header in k8snetio/io/output/findings_writer.hpp k8snetio/io/output/risk_event_writer.hpp \
              k8snetio/io/output/html_report_writer.hpp; do
  deps=$(echo "#include <$header>" |
    "$cxx" -std=c++20 -DK8SNETIO_COMPILED -DK8SNETIO_COMPILED_IO -I. -x c++ -M -MG - 2>&1) || {
    echo "FAIL: $header does not preprocess on its own:"; echo "$deps" | head -5; failed=1; continue; }
  offending=$(tr ' \\' '\n\n' <<<"$deps" | grep -E "$heavy|-inl\.hpp" | sort -u | head -3)
  if [[ -n $offending ]]; then
    echo "FAIL: $header with K8SNETIO_COMPILED_IO includes $(echo $offending)"
    failed=1
  fi
done
((checked > 20)) || { echo "FAIL: only $checked headers checked"; exit 1; }
((failed == 0)) && echo "ok: $checked core headers include none of the heavy libraries," \
  "the engines and rules no range library; the writers' headers in compiled_io mode no fmt"
exit $failed
