#!/usr/bin/env bash
# library.md A6 through the program: the library's errors and hints name its options
# (reader_options::default_node, input_options::format, …); the program names its flags.
#   cli_flags.sh K8S_NETIO DATA_DIR WORK_DIR
set -u
k8s_netio=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }

# A header without k8s.node.name: an error naming --default-node.
printf 'metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.pod.name,direction\n1700000001,k8s.pod.network.io,5,c,p,transmit\n' >no_node.csv
if "$k8s_netio" detect --baseline "$data/cli_baseline.csv" no_node.csv 2>err.txt; then
  fail "detect read a CSV without a node column"
fi
grep -q 'k8snetio.error.110' err.txt || fail "not the bad_header error: $(cat err.txt)"
grep -q -- "(or set --default-node)" err.txt || fail "the flag is not named: $(cat err.txt)"
grep -q "reader_options" err.txt && fail "the library's option name reached the user: $(cat err.txt)"

# A baseline table given as metrics: an error naming --baseline and --input-format.
if "$k8s_netio" detect --baseline "$data/cli_baseline.csv" "$data/cli_baseline.csv" 2>err.txt; then
  fail "detect read a baseline table as metrics"
fi
grep -q -- "pass it with --baseline, or force a format with --input-format" err.txt ||
  fail "the flags are not named: $(cat err.txt)"

# Epoch milliseconds read as seconds: the summary's example names --time-unit.
sed -e 's/^\([0-9]*\)\.\([0-9]*\),/\1\2,/' "$data/cli_detect.csv" >ms.csv
"$k8s_netio" detect --baseline "$data/cli_baseline.csv" ms.csv >/dev/null 2>err.txt
grep -q -- "set --time-unit ms" err.txt || fail "the summary does not name --time-unit: $(cat err.txt)"
grep -q "reader_options" err.txt && fail "the library's option name reached the user: $(cat err.txt)"
echo "ok"
