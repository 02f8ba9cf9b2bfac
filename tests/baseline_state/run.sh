#!/usr/bin/env bash
# End-to-end cases of `k8s-netio baseline --state DIR --add FILE`, `--state DIR` and
# `--merge STATE...` (engine.md S4.1, S6; service.md K6). ctest registers each as cli.<case>:
#
#   run.sh K8S_NETIO CASE WORK_DIR PYTHON3
set -u
bin=$1
case_name=$2
work=$3/$case_name
python=$4
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1

fail() {
  echo "FAIL cli.$case_name: $*" >&2
  exit 1
}
# run ARGS...: stdout to ./out, stderr to ./err, the exit code to $rc.
run() {
  "$bin" "$@" >out 2>err
  rc=$?
}
expect_rc() {
  if [ "$rc" -ne "$1" ]; then
    echo "--- stderr:" >&2
    cat err >&2
    fail "exit code $rc, expected $1"
  fi
}
expect_err() {
  grep -qE -- "$1" err || {
    echo "--- stderr:" >&2
    cat err >&2
    fail "standard error does not match /$1/"
  }
}
# same_table A B: same keys, counts, last_seen and empty cells; averages within 1e-12
# relative; a stdev within 1e-12 times the condition number (avg/stdev)^2 of B3's formula
# (sumsq - sum*mean): Splunk's plain sums over 10^5 rows of 10^6 are themselves only that
# exact, so a sum added up day by day may differ from one added up row by row by as much.
# With --numerics stable the condition number is not needed: pass "strict" as $3.
same_table() {
  "$python" - "$1" "$2" "${3:-}" <<'PY' || fail "$1 and $2 differ"
import csv, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
strict = sys.argv[3] == "strict"
assert a[0] == b[0], (a[0], b[0])
assert len(a) == len(b) and len(a) > 1, (len(a), len(b))
measures = (len(a[0]) - 3) // 2
for x, y in zip(a[1:], b[1:]):
    assert x[0] == y[0] and x[-2:] == y[-2:], (x, y)
    for i, (u, v) in enumerate(zip(x[1:-2], y[1:-2])):
        assert (u == "") == (v == ""), (x, y)
        if not u:
            continue
        u, v = float(u), float(v)
        tolerance = 1e-12
        if i >= measures and not strict and u > 0:
            avg = float(x[1 + i - measures] or 0)
            tolerance *= max(1.0, (avg / u) ** 2)
        assert abs(u - v) <= tolerance * max(abs(u), 1e-300), (x, y, tolerance)
PY
}

day0=1700006400  # 2023-11-15T00:00:00Z
simulate_day() {  # simulate_day N FILE: the Nth day after day0
  "$bin" simulate --pods 8 --hours 24 --seed $((7 + $1)) --start $((day0 + 86400 * $1)) >"$2" 2>/dev/null ||
    fail "simulate day $1"
}

case "$case_name" in
  S6.rolling_add_drop)
    for d in 0 1 2; do simulate_day $d day$d.csv; done
    # One day: the rolling table is the plain baseline of that day, byte for byte.
    run baseline --state st --horizon 2 --add day0.csv -o rolling0.csv
    expect_rc 0
    expect_err "state .*st.*: 2023-11-15; added 2023-11-15"
    [ -f st/2023-11-15.k8snetio-day ] || fail "no day file"
    "$bin" baseline day0.csv >plain0.csv 2>/dev/null
    cmp rolling0.csv plain0.csv || fail "one day differs from the plain baseline"
    # S1: a shuffled day is read a second time with every bucket held; the same day's state.
    "$python" -c 'import random, sys
lines = open(sys.argv[1]).readlines()
body = lines[1:]
random.Random(5).shuffle(body)
sys.stdout.writelines(lines[:1] + body)' day0.csv >shuffled0.csv
    run baseline --state shuffled --add shuffled0.csv -o shuffled.csv
    expect_rc 0
    expect_err "read a second time"
    same_table shuffled.csv rolling0.csv
    # Two days: a recompute over both, within 1e-12.
    run baseline --state st --horizon 2 --add day1.csv -o rolling1.csv
    expect_rc 0
    "$bin" baseline day0.csv day1.csv >plain01.csv 2>/dev/null
    same_table rolling1.csv plain01.csv
    # The third day pushes the first past the 2-day horizon: its file goes, the table follows.
    run baseline --state st --horizon 2 --add day2.csv -o rolling2.csv
    expect_rc 0
    expect_err "dropped 2023-11-15 past the 2-day horizon"
    [ ! -e st/2023-11-15.k8snetio-day ] || fail "the dropped day's file is still there"
    [ "$(ls st | wc -l)" -eq 2 ] || fail "expected 2 day files: $(ls st)"
    "$bin" baseline day1.csv day2.csv >plain12.csv 2>/dev/null
    same_table rolling2.csv plain12.csv
    # Without --add: the table of the days held, to standard output; nothing changes.
    run baseline --state st --horizon 2
    expect_rc 0
    cmp out rolling2.csv || fail "--state alone gives another table"
    # The stable numerics (Welford, Chan's merge) agree to 1e-12 without the condition number.
    run baseline --numerics stable --state stable --add day0.csv day1.csv -o stable.csv
    expect_rc 0
    "$bin" baseline --numerics stable day0.csv day1.csv >plain_stable.csv 2>/dev/null
    same_table stable.csv plain_stable.csv strict
    # The ratio rule keeps its own state the same way.
    run baseline --rule ratio --state ratio --add day1.csv day2.csv -o ratio.csv
    expect_rc 0
    "$bin" baseline --rule ratio day1.csv day2.csv >plain_ratio.csv 2>/dev/null
    same_table ratio.csv plain_ratio.csv
    ;;
  S6.replace_and_refuse)
    simulate_day 0 day0.csv
    simulate_day 0 again.csv
    "$bin" baseline --state st --add day0.csv -o table.csv 2>/dev/null || fail "first add"
    cp table.csv table.before
    sum_before=$(md5sum st/*)
    # The same day again: refused, naming the day file, nothing written.
    run baseline --state st --add again.csv -o table.csv
    expect_rc 1
    expect_err "st/2023-11-15.k8snetio-day: the state already holds 2023-11-15 \(--replace"
    cmp table.csv table.before || fail "-o changed by a refused run"
    [ "$(md5sum st/*)" = "$sum_before" ] || fail "the state changed on a refused run"
    # --replace: the day is the input's, not the sum of both.
    run baseline --state st --add again.csv --replace -o table.csv
    expect_rc 0
    cmp table.csv table.before || fail "--replace with the same data gives another table"
    ;;
  S6.bad_state)
    simulate_day 0 day0.csv
    "$bin" baseline --state st --add day0.csv -o table.csv 2>/dev/null || fail "first add"
    cp table.csv table.before
    # Other settings: refused, naming the file and both settings.
    run baseline --rule ratio --state st -o table.csv
    expect_rc 1
    expect_err "st/2023-11-15.k8snetio-day: .*other settings: it has \[rule=Kubernetes Anomalous Inbound Outbound Network IO;"
    # A corrupt byte, a truncated file, a file that is not a state.
    cp st/2023-11-15.k8snetio-day good
    printf 'X' | dd of=st/2023-11-15.k8snetio-day bs=1 seek=200 conv=notrunc 2>/dev/null
    run baseline --state st -o table.csv
    expect_rc 1
    expect_err "2023-11-15.k8snetio-day: .*CRC-32"
    head -c 100 good >st/2023-11-15.k8snetio-day
    run baseline --state st -o table.csv
    expect_rc 1
    expect_err "2023-11-15.k8snetio-day: .*(truncated|bytes with)"
    echo "hello" >st/2023-11-15.k8snetio-day
    run baseline --state st -o table.csv
    expect_rc 1
    expect_err "not a k8snetio state snapshot"
    cp good st/2023-11-15.k8snetio-day
    cp good st/notaday.k8snetio-day
    run baseline --state st -o table.csv
    expect_rc 1
    expect_err "notaday.k8snetio-day: .*YYYY-MM-DD"
    rm st/notaday.k8snetio-day
    cp good st/2023-11-16.k8snetio-day  # the name says one day, the content another
    run baseline --state st -o table.csv
    expect_rc 1
    expect_err "2023-11-16.k8snetio-day: holds the day 2023-11-15"
    cmp table.csv table.before || fail "-o changed by a failed run"
    rm st/2023-11-16.k8snetio-day
    run baseline --state nowhere
    expect_rc 1
    expect_err "nowhere: no such state directory"
    run baseline --state day0.csv
    expect_rc 1
    expect_err "must name a directory"
    ;;
  K6.merge)
    simulate_day 0 day0.csv
    simulate_day 1 day1.csv
    # Two consumers, one per cluster (disjoint series): their states merge into the table of
    # the whole input, byte for byte (each key's sums come from one shard, in input order).
    for f in day0 day1; do
      awk -F, 'NR == 1 || $4 == "prod-eu"' $f.csv >$f.a.csv
      awk -F, 'NR == 1 || $4 != "prod-eu"' $f.csv >$f.b.csv
    done
    [ "$(wc -l <day0.b.csv)" -gt 1 ] || fail "the second shard is empty"
    "$bin" baseline --state a --add day0.a.csv day1.a.csv 2>/dev/null >/dev/null || fail "shard a"
    "$bin" baseline --state b --add day0.b.csv day1.b.csv 2>/dev/null >/dev/null || fail "shard b"
    run baseline --merge a b -o merged.csv
    expect_rc 0
    expect_err "merged 4 state files of 2 states: 2 days, 2023-11-15 to 2023-11-16"
    "$bin" baseline day0.csv day1.csv >plain.csv 2>/dev/null
    same_table merged.csv plain.csv  # two days: their sums are added day by day
    # One day of two shards: byte for byte.
    run baseline --merge a/2023-11-15.k8snetio-day b/2023-11-15.k8snetio-day
    expect_rc 0
    "$bin" baseline day0.csv >plain0.csv 2>/dev/null
    cmp out plain0.csv || fail "the merged day differs from one run"
    # One day file as a STATE, and a horizon of one day.
    run baseline --merge a/2023-11-16.k8snetio-day b --horizon 1
    expect_rc 0
    "$bin" baseline day1.csv >plain1.csv 2>/dev/null
    cmp out plain1.csv || fail "--merge --horizon 1 differs from the last day"
    # A bad state names itself; -o stays as it was.
    cp merged.csv merged.before
    echo junk >junk.k8snetio-day
    run baseline --merge a junk.k8snetio-day -o merged.csv
    expect_rc 1
    expect_err "junk.k8snetio-day: .*not a k8snetio state snapshot"
    cmp merged.csv merged.before || fail "-o changed by a failed merge"
    run baseline --merge a merged.csv -o merged.csv
    expect_rc 2
    ;;
  S6.usage)
    simulate_day 0 day0.csv
    for args in "--add day0.csv" "--state st day0.csv" "--horizon 3 day0.csv" \
                "--state st --merge st" "--replace day0.csv" "--state st --span 7s --add day0.csv" \
                "--state st --add day0.csv --horizon 0" ""; do
      # shellcheck disable=SC2086
      run baseline $args
      [ "$rc" -eq 2 ] || fail "baseline $args: exit code $rc, expected 2 (usage)"
      [ -s err ] || fail "baseline $args: no error message"
    done
    run baseline --help
    expect_rc 0
    grep -q -- "--state DIR" out || fail "--help does not show --state"
    grep -q -- "--merge" out || fail "--help does not show --merge"
    [ ! -e st ] || fail "a usage error created the state directory"
    ;;
  S1.4.future_day)
    # One row stamped 2100-01-01 given to --add: refused, naming the input; the real days stay
    # (before: the row made a day 2100 and every real day "past the horizon", deleted).
    simulate_day 0 day0.csv
    simulate_day 1 day1.csv
    "$bin" baseline --state st --add day0.csv >/dev/null 2>&1 || fail "first add"
    sum_before=$(md5sum st/*)
    { cat day1.csv; tail -n 1 day1.csv | awk -F, 'BEGIN { OFS = "," } { $1 = "4102444800"; print }'; } >future.csv
    run baseline --state st --add future.csv
    expect_rc 1
    expect_err "future.csv: 1 point is stamped after this machine's clock \(the first at 4102444800, in 2100-01-01"
    expect_err "nothing was written"
    [ "$(md5sum st/*)" = "$sum_before" ] || fail "the state changed on a refused run"
    [ -f st/2023-11-15.k8snetio-day ] || fail "the real day was deleted"
    # A day file named for a day after today is refused too, naming it, never the newest day.
    cp st/2023-11-15.k8snetio-day st/2100-01-01.k8snetio-day
    run baseline --state st --add day1.csv
    expect_rc 1
    expect_err "st/2100-01-01.k8snetio-day: holds 2100-01-01, a day after today"
    [ -f st/2023-11-15.k8snetio-day ] || fail "the real day was deleted"
    run baseline --merge st
    expect_rc 1
    expect_err "2100-01-01.k8snetio-day"
    rm st/2100-01-01.k8snetio-day
    run baseline --state st --add day1.csv
    expect_rc 0
    ;;
  RT-5.lock)
    # The state directory is locked for a whole --add: a second run is refused at once with a
    # clear error, and nothing of either is lost (before: both exited 0, one shard was lost).
    simulate_day 0 day0.csv
    simulate_day 1 day1.csv
    "$bin" baseline --state st --add day0.csv >/dev/null 2>&1 || fail "first add"
    sum_before=$(md5sum st/*)
    # Another holder of the lock (flock(1) on the same file) for the length of our run.
    flock -x st/.k8snetio-lock "$bin" baseline --state st --add day1.csv >out 2>err
    rc=$?
    expect_rc 1
    expect_err "st/.k8snetio-lock: another k8s-netio run is using this state directory"
    [ "$(md5sum st/*)" = "$sum_before" ] || fail "a refused run changed the state"
    # Two shards of one day at once, ten times: never both accepted (one is refused, by the
    # lock or because the other's day is in place), and the day kept is one whole shard.
    awk -F, 'NR == 1 || $4 == "prod-eu"' day1.csv >a.csv
    awk -F, 'NR == 1 || $4 != "prod-eu"' day1.csv >b.csv
    "$bin" baseline a.csv >a.table 2>/dev/null
    "$bin" baseline b.csv >b.table 2>/dev/null
    for i in 1 2 3 4 5 6 7 8 9 10; do
      rm -rf race
      mkdir race
      "$bin" baseline --state race --add a.csv >/dev/null 2>race.a &
      pa=$!
      "$bin" baseline --state race --add b.csv >/dev/null 2>race.b &
      pb=$!
      wait $pa
      ra=$?
      wait $pb
      rb=$?
      [ $((ra + rb)) -eq 1 ] || fail "round $i: exit codes $ra and $rb, expected one run refused"
      "$bin" baseline --state race >race.table 2>/dev/null || fail "round $i: state unreadable"
      if [ $ra -eq 0 ]; then cmp -s race.table a.table; else cmp -s race.table b.table; fi ||
        fail "round $i: the day kept is not the accepted run's"
    done
    ;;
  RT-23.merge_twice)
    # The same state twice, by the same path, a link or a day file inside it: refused (before:
    # every count doubled).
    simulate_day 0 day0.csv
    "$bin" baseline --state a --add day0.csv >/dev/null 2>&1 || fail "add"
    ln -s a link
    run baseline --merge a a
    expect_rc 1
    expect_err "a: the same directory as a: merging it twice would count every row twice"
    run baseline --merge a link
    expect_rc 1
    expect_err "link: the same directory as a"
    run baseline --merge a/2023-11-15.k8snetio-day a
    expect_rc 1
    expect_err "2023-11-15.k8snetio-day: the same file as a/2023-11-15.k8snetio-day"
    ln a/2023-11-15.k8snetio-day hard.k8snetio-day
    run baseline --merge a hard.k8snetio-day
    expect_rc 1
    expect_err "hard.k8snetio-day: the same file as"
    run baseline --merge a
    expect_rc 0
    ;;
  RT-24.all_or_nothing)
    # A two-day --add whose second day cannot be written (a file size limit: a full disk for
    # that file) writes neither day, and the same command then succeeds (before: the first day
    # stayed, and rerunning was refused because the state "already holds" it).
    "$python" - <<'PY' >two.csv
print("metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
      "k8s.namespace.name,direction,interface")
day0, day1 = 1700006400, 1700006400 + 86400
print(f"{day0 + 5},k8s.pod.network.io,100,c0,n,svc-abc-xyz,ns,receive,eth0")
for c in range(3000):
    print(f"{day1 + 5},k8s.pod.network.io,{c + 1},cluster-{c},n,svc-abc-xyz,ns,receive,eth0")
PY
    mkdir st
    (
      trap '' XFSZ
      ulimit -f 64
      exec "$bin" baseline --state st --add two.csv -o /dev/null
    ) >out 2>err
    rc=$?
    [ -z "$(ls -A st | grep -v '^.k8snetio-lock$')" ] || fail "a failed --add left files: $(ls -A st)"
    expect_rc 1
    expect_err "(File too large|file too large).*the state directory is as it was"
    run baseline --state st --add two.csv -o table.csv
    expect_rc 0
    expect_err "added 2 days, 2023-11-15 to 2023-11-16"
    ;;
  RT-12.state_links)
    # A day file that is a symbolic link is refused (never followed); so is a state directory
    # every user may write.
    simulate_day 0 day0.csv
    "$bin" baseline --state st --add day0.csv >/dev/null 2>&1 || fail "add"
    mkdir elsewhere
    mv st/2023-11-15.k8snetio-day elsewhere/
    ln -s ../elsewhere/2023-11-15.k8snetio-day st/2023-11-15.k8snetio-day
    run baseline --state st
    expect_rc 1
    expect_err "st/2023-11-15.k8snetio-day: a state file must be a regular file"
    rm st/2023-11-15.k8snetio-day
    mv elsewhere/2023-11-15.k8snetio-day st/
    chmod 0777 st
    run baseline --state st
    expect_rc 1
    expect_err "st: the state directory is writable by every user \(mode 0777\)"
    chmod 0755 st
    run baseline --state st
    expect_rc 0
    ;;
  *)
    fail "no such case"
    ;;
esac
echo "ok cli.$case_name"
