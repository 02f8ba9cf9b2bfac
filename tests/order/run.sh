#!/usr/bin/env bash
# engine.md S1 through the k8s-netio program: the same simulated file in time-major,
# series-major, reversed and shuffled order, from a file, standard input and gzip, gives the
# baseline table of that same file held whole (--unordered), byte for byte; and, the simulator's
# values being whole numbers, the same table whatever the order. Bounded: small files, no loops
# beyond the four orders.
#   run.sh K8S_NETIO CASE WORKDIR
set -euo pipefail
bin=$1 case_name=$2 work=$3/$2
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }

"$bin" simulate --pods 12 --hours 2 --seed 3 >time.csv 2>/dev/null
{ head -n 1 time.csv; tail -n +2 time.csv | tac; } >reversed.csv
{ head -n 1 time.csv; tail -n +2 time.csv | shuf --random-source=time.csv; } >shuffled.csv
# Sorted by pod and direction (columns 6 and 8), time order kept within each: series-major.
{ head -n 1 time.csv; tail -n +2 time.csv | sort -s -t, -k6,6 -k8,8; } >series.csv

case "$case_name" in
  S1.baseline_any_order)
    for rule in io ratio; do
      "$bin" baseline --rule $rule time.csv >reference.$rule 2>/dev/null
      for order in time series reversed shuffled; do
        "$bin" baseline --rule $rule --unordered $order.csv >held.$order.$rule 2>/dev/null
        "$bin" baseline --rule $rule $order.csv >streamed.$order.$rule 2>err.$order.$rule ||
          fail "baseline --rule $rule $order.csv: $(cat err.$order.$rule)"
        cmp -s held.$order.$rule streamed.$order.$rule ||
          fail "--rule $rule $order: not the table of the same file held whole"
        if [ $rule = io ]; then  # whole numbers: the order of additions cannot show
          cmp -s reference.$rule streamed.$order.$rule ||
            fail "--rule $rule $order: not the time-ordered file's table"
        fi
      done
    done
    # Streamed in one pass when the order allows it; told when a second pass was needed.
    ! grep -q 'second time' err.time.io || fail "time-major input took a second pass"
    ! grep -q 'second time' err.series.io || fail "series-major input took a second pass"
    grep -q 'second time' err.shuffled.io || fail "shuffled input did not say it was read twice"
    ;;
  S1.2_stdin_and_gzip)
    "$bin" baseline time.csv >reference 2>/dev/null
    "$bin" baseline - <shuffled.csv >stdin.out 2>stdin.err || fail "stdin: $(cat stdin.err)"
    cmp -s reference stdin.out || fail "shuffled standard input: a different table"
    gzip -c shuffled.csv >shuffled.csv.gz
    "$bin" baseline shuffled.csv.gz >gz.out 2>/dev/null || fail "gzip failed"
    cmp -s reference gz.out || fail "shuffled gzip: a different table"
    gzip -c shuffled.csv | "$bin" baseline - >gzstdin.out 2>/dev/null || fail "gzip stdin failed"
    cmp -s reference gzstdin.out || fail "shuffled gzip on standard input: a different table"
    ;;
  S1.1_memory_limit_is_an_error)
    echo "old" >out.csv
    set +e
    "$bin" baseline --max-memory 1 -o out.csv shuffled.csv 2>err
    rc=$?
    set -e
    [ $rc -eq 1 ] || fail "exit $rc, not 1"
    grep -q -- '--max-memory' err || fail "the error does not name --max-memory: $(cat err)"
    [ "$(cat out.csv)" = old ] || fail "the output file was changed"
    # Time-major input streams within the same limit.
    "$bin" baseline --max-memory 1 time.csv >/dev/null 2>err || fail "time-major: $(cat err)"
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "passed: $case_name"
