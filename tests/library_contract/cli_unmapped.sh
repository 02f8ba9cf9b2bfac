#!/usr/bin/env bash
# library.md A1.4 through the program: a detect run in which no point feeds the rule (the
# directions are tx/rx, not transmit/receive) is an error that names the unmapped directions,
# and writes no output; the same input with one direction mapped runs and names the other. The
# same for `baseline` (a table of no key) and `baseline --state DIR --add` (no state made).
#   cli_unmapped.sh K8S_NETIO DATA_DIR WORK_DIR
set -u
k8s_netio=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }

sed -e 's/,transmit/,tx/' -e 's/,receive/,rx/' "$data/cli_detect.csv" >renamed.csv
grep -q ',tx' renamed.csv || fail "the fixture has no transmit rows to rename"
if "$k8s_netio" detect --baseline "$data/cli_baseline.csv" -o out.csv renamed.csv 2>err.txt; then
  fail "detect succeeded although no point has a direction the rule reads"
fi
grep -q 'no point of the input feeds the io rule' err.txt || fail "no clear error: $(cat err.txt)"
grep -q 'unmapped direction (rx, tx)' err.txt || fail "the directions are not named: $(cat err.txt)"
[[ ! -e out.csv ]] || fail "an output was written for a failed run"

sed -e 's/,receive/,rx/' "$data/cli_detect.csv" >half.csv
"$k8s_netio" detect --baseline "$data/cli_baseline.csv" -o out.csv half.csv 2>err.txt ||
  fail "detect failed with transmit points mapped: $(cat err.txt)"
grep -q 'unmapped direction (rx)' err.txt || fail "the summary does not name rx: $(cat err.txt)"

# The baseline side: the same input builds no key, and says so instead of writing an empty table.
if "$k8s_netio" baseline -o base.csv renamed.csv 2>err.txt; then
  fail "baseline succeeded although no point has a direction the rule reads"
fi
grep -q 'no point of the input feeds the io rule' err.txt || fail "baseline: no clear error: $(cat err.txt)"
grep -q 'unmapped direction (rx, tx)' err.txt || fail "baseline: directions not named: $(cat err.txt)"
[[ ! -e base.csv ]] || fail "baseline wrote a table for a failed run"
if "$k8s_netio" baseline --state state --add renamed.csv -o base.csv 2>err.txt; then
  fail "baseline --state --add succeeded although no point has a direction the rule reads"
fi
grep -q 'unmapped direction (rx, tx)' err.txt || fail "baseline --add: directions not named: $(cat err.txt)"
[[ ! -e state && ! -e base.csv ]] || fail "baseline --add made a state or a table for a failed run"
"$k8s_netio" baseline -o base.csv half.csv 2>err.txt ||
  fail "baseline failed with transmit points mapped: $(cat err.txt)"
grep -q 'unmapped direction (rx)' err.txt || fail "baseline: the summary does not name rx: $(cat err.txt)"
[[ -s base.csv ]] || fail "baseline wrote no table with transmit points mapped"
echo "ok"
