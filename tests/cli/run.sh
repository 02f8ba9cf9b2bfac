#!/usr/bin/env bash
# One end-to-end case of k8s-netio (ctest registers each as cli.<case>, see CMakeLists.txt):
#
#   run.sh K8S_NETIO CASE DATA_DIR GOLDEN_DIR WORK_DIR
#
# Each case runs the program, checks its exit code, compares standard output with a golden
# file and standard error with what it must say. K8SNETIO_UPDATE_GOLDEN=1 rewrites the golden
# files from the current output instead of comparing (review the diff before committing).
set -u

bin=$1
case_name=$2
data=$3
golden=$4
work=$5/$case_name
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
    fail "exit code $rc, expected $1 (k8s-netio $*)"
  fi
}
# expect_golden FILE NAME: FILE equals golden/NAME.
expect_golden() {
  if [ "${K8SNETIO_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$1" "$golden/$2"
    return
  fi
  diff -u "$golden/$2" "$1" >&2 || fail "$1 differs from golden/$2"
}
# expect_err REGEX: standard error matches the extended regex.
expect_err() {
  grep -qE -- "$1" err || {
    echo "--- stderr:" >&2
    cat err >&2
    fail "standard error does not match /$1/"
  }
}
expect_out() {
  grep -qE -- "$1" out || {
    echo "--- stdout:" >&2
    cat out >&2
    fail "standard output does not match /$1/"
  }
}
expect_empty_out() {
  [ ! -s out ] || fail "standard output should be empty, it holds: $(head -c 300 out)"
}
same() {
  cmp -s "$1" "$2" || {
    diff -u "$1" "$2" | head -40 >&2
    fail "$1 and $2 differ"
  }
}

# bare FILE: FILE's findings without the I3.3 context keys (k8s.namespace.name, k8s.pod.uid),
# which differ by what each input format carries (a metrics_csv export has no pod uid).
bare() {
  sed -E 's/"k8s\.namespace\.name":"[^"]*",//; s/"k8s\.pod\.uid":"[^"]*",//' "$1" >"$1.bare"
}

detect_fixture() {
  run detect --baseline "$data/cli_baseline.csv" "$@" "$data/cli_detect.csv"
}

# The simulated data of formats.same_findings and rule.ratio, as the README's quick start: a day
# of 8 pods to train on (csv), then the next hour, with an exfiltration and a blip injected, in
# each format (the same fleet whatever the seed).
sim_start=1699920000
sim_split=$((sim_start + 86400))
simulate_formats() {
  "$bin" simulate --pods 8 --hours 24 --seed 7 --start $sim_start >train.csv 2>/dev/null ||
    fail "simulate the training day failed"
  for f in csv hec otlp; do
    "$bin" simulate --pods 8 --hours 1 --seed 8 --start $sim_split --incident exfil \
      --incident blip --format $f >sim.$f 2>sim.$f.err || fail "simulate --format $f failed"
  done
}

case "$case_name" in
  help)
    run --help
    expect_rc 0
    expect_out 'Exit codes: 0 success'
    for sub in baseline detect simulate demo; do
      run $sub --help
      expect_rc 0
      expect_out 'Exit codes'
    done
    run detect --help
    expect_out '--baseline'
    expect_out '--format'
    ;;
  usage.bad_option)
    run detect --baseline "$data/cli_baseline.csv" --no-such-option "$data/cli_detect.csv"
    expect_rc 2
    expect_err 'no-such-option'
    expect_empty_out
    ;;
  usage.bad_value)
    detect_fixture --sigma lots
    expect_rc 2
    expect_err 'sigma'
    detect_fixture --format xml
    expect_rc 2
    expect_err 'format'
    detect_fixture --window 1fortnight
    expect_rc 2
    expect_err 'not a duration'
    run detect "$data/cli_detect.csv"
    expect_rc 2
    expect_err 'baseline'
    run baseline
    expect_rc 2
    expect_err 'INPUT'
    ;;
  usage.no_subcommand)
    run
    expect_rc 2
    run frobnicate
    expect_rc 2
    ;;
  usage.window_not_multiple_of_span)
    detect_fixture --span 7 --window 1m
    expect_rc 2
    expect_err 'multiple of --span'
    run baseline --earliest 1700000100 --latest 1700000000 "$data/cli_detect.csv"
    expect_rc 2
    expect_err 'before --latest'
    ;;
  baseline.golden)
    run baseline "$data/cli_detect.csv"
    expect_rc 0
    expect_golden out baseline.csv
    expect_err 'read 1 input: 112 rows, 112 points used, 0 skipped'
    # -o writes the same table to a file, nothing to stdout.
    run baseline -o table.csv "$data/cli_detect.csv"
    expect_rc 0
    expect_empty_out
    expect_golden table.csv baseline.csv
    # Input in any order: the same table (the fixture is in time order anyway).
    run baseline --unordered "$data/cli_detect.csv"
    expect_rc 0
    expect_golden out baseline.csv
    # The stable numerics: the same keys and counts, digits may differ in the last place.
    run baseline --numerics stable "$data/cli_detect.csv"
    expect_rc 0
    [ "$(cut -d, -f1,6,7 out)" = "$(cut -d, -f1,6,7 "$golden/baseline.csv")" ] ||
      fail "--numerics stable changed the keys or counts"
    expect_out '^prod:cart,725,790,138\.87301496588'
    ;;
  baseline.stdin)
    "$bin" baseline - <"$data/cli_detect.csv" >out 2>err
    rc=$?
    expect_rc 0
    expect_golden out baseline.csv
    ;;
  detect.jsonl)
    detect_fixture
    expect_rc 0
    expect_golden out findings.jsonl
    expect_err '3 findings'
    ;;
  detect.csv)
    detect_fixture --format csv
    expect_rc 0
    expect_golden out findings.csv
    ;;
  detect.hec)
    detect_fixture --format hec
    expect_rc 0
    expect_golden out findings.hec.json
    ;;
  detect.ocsf)
    detect_fixture --format ocsf
    expect_rc 0
    expect_golden out findings.ocsf.json
    ;;
  detect.table)
    detect_fixture --format table
    expect_rc 0
    expect_golden out findings.table.txt
    ;;
  detect.zero_stdev_inf)
    # D6.4: the SPL drops redis-0 (stdev 0); the option keeps it with a z-score of inf.
    detect_fixture --zero-stdev inf
    expect_rc 0
    expect_golden out findings.zero_stdev_inf.jsonl
    expect_out '"k8s.pod.name":"redis-0"'
    ;;
  detect.window)
    # D9: 40 s windows split the 8 buckets 4 + 4: nothing persists past 5 in either.
    detect_fixture --window 40s --min-count 3
    expect_rc 0
    expect_golden out findings.window.jsonl
    ;;
  detect.output_file)
    detect_fixture -o findings.jsonl
    expect_rc 0
    expect_empty_out
    expect_golden findings.jsonl findings.jsonl
    ;;
  input.gzip)
    gzip -c "$data/cli_detect.csv" >metrics.csv.gz || fail "gzip failed"
    gzip -c "$data/cli_baseline.csv" >baseline.csv.gz || fail "gzip failed"
    run detect --baseline baseline.csv.gz metrics.csv.gz
    expect_rc 0
    expect_golden out findings.jsonl
    # gzip is recognised from the content, whatever the name.
    cp metrics.csv.gz metrics.bin
    run detect --baseline "$data/cli_baseline.csv" metrics.bin
    expect_rc 0
    expect_golden out findings.jsonl
    ;;
  input.stdin)
    "$bin" detect --baseline "$data/cli_baseline.csv" - <"$data/cli_detect.csv" >out 2>err
    rc=$?
    expect_rc 0
    expect_golden out findings.jsonl
    ;;
  input.unreadable)
    run detect --baseline "$data/cli_baseline.csv" no-such-file.csv
    expect_rc 1
    expect_err 'no-such-file.csv: cannot open'
    expect_empty_out
    run detect --baseline no-such-baseline.csv "$data/cli_detect.csv"
    expect_rc 1
    expect_err 'no-such-baseline.csv: cannot open'
    run baseline .
    expect_rc 1
    expect_err 'directory'
    ;;
  input.baseline_as_metrics)
    run baseline "$data/cli_baseline.csv"
    expect_rc 1
    expect_err 'baseline table, not metrics'
    ;;
  malformed.counted)
    # Run on a copy in the work folder, so the names in the summary are the same everywhere.
    cp "$data/cli_malformed.csv" "$data/cli_baseline.csv" .
    run detect --baseline cli_baseline.csv cli_malformed.csv
    expect_rc 0
    expect_empty_out
    expect_golden err malformed.stderr.txt
    expect_err 'cli_malformed.csv:3: bad number'
    expect_err 'cli_malformed.csv:5: short row'
    ;;
  malformed.hec_counted)
    run baseline "$data/cli_malformed_hec.json"
    expect_rc 0
    expect_err 'cli_malformed_hec.json:2: '
    expect_err 'skipped'
    ;;
  malformed.strict)
    run detect --strict --baseline "$data/cli_baseline.csv" "$data/cli_malformed.csv"
    expect_rc 1
    expect_err 'cli_malformed.csv:3: bad number'
    expect_empty_out
    run baseline --strict "$data/cli_malformed_hec.json"
    expect_rc 1
    expect_err 'cli_malformed_hec.json:2: '
    # --strict on clean input changes nothing.
    detect_fixture --strict
    expect_rc 0
    expect_golden out findings.jsonl
    ;;
  baseline.duplicate_key)
    run detect --baseline "$data/cli_baseline_duplicate_key.csv" "$data/cli_detect.csv"
    expect_rc 1
    expect_err "cli_baseline_duplicate_key.csv:7: duplicate key 'prod:checkout'"
    expect_empty_out
    [ "$(wc -l <err)" -eq 1 ] || fail "the error should be one line"
    ;;
  baseline.no_key_column)
    run detect --baseline "$data/cli_baseline_no_key.csv" "$data/cli_detect.csv"
    expect_rc 1
    expect_err "no 'key' column"
    ;;
  baseline.other_rule)
    run detect --rule ratio --baseline "$data/cli_baseline.csv" "$data/cli_detect.csv"
    expect_rc 1
    expect_err 'another --rule'
    ;;
  formats.same_findings)
    # The same simulated samples as metrics_csv, HEC events and OTLP cumulative counters give
    # the same baseline and the same findings.
    simulate_formats
    run baseline train.csv
    expect_rc 0
    cp out train_baseline.csv
    for f in csv hec otlp; do
      run baseline sim.$f
      expect_rc 0
      cp out baseline.$f
      run detect --baseline train_baseline.csv sim.$f
      expect_rc 0
      cp out findings.$f
    done
    same baseline.csv baseline.hec
    same baseline.csv baseline.otlp
    for f in csv hec otlp; do bare findings.$f; done
    same findings.csv.bare findings.hec.bare
    same findings.csv.bare findings.otlp.bare
    expect_golden findings.csv.bare simulated_findings.jsonl
    # I3.3: each carries the context its input has.
    grep -q '"k8s.namespace.name":"shop"' findings.csv || fail "no namespace in csv findings"
    grep -q '"k8s.pod.uid":"' findings.otlp || fail "no pod uid in OTLP findings"
    # The exfiltration alerts, the blip does not.
    exfil_pod=$(sed -n 's/.*injected exfiltration: .* pod \([^,]*\),.*/\1/p' sim.csv.err)
    blip_pod=$(sed -n 's/.*injected blip: .* pod \([^,]*\),.*/\1/p' sim.csv.err)
    [ -n "$exfil_pod" ] && [ -n "$blip_pod" ] || fail "simulate did not name its incidents"
    grep -q "\"k8s.pod.name\":\"$exfil_pod\"" findings.csv || fail "exfiltration not found"
    if grep -q "\"k8s.pod.name\":\"$blip_pod\"" findings.csv; then fail "the blip alerted"; fi
    ;;
  S5.1.max_series)
    # The cap on series held: points of series beyond it are refused, counted in the summary
    # and warned about once, naming the option; the rest is processed.
    run baseline --max-series 3 "$data/cli_detect.csv"
    expect_rc 0
    expect_out '^key,'
    expect_err 'series limit'
    expect_err 'warning: [0-9,]+ points of series beyond the 3 held at once were refused \(--max-series 3\)'
    [ "$(grep -c 'max-series' err)" = 1 ] || fail "the series cap was warned about more than once"
    run baseline "$data/cli_detect.csv"
    expect_rc 0
    if grep -q 'max-series' err; then fail "warned without reaching the cap"; fi
    run baseline --max-series 0 "$data/cli_detect.csv"
    expect_rc 2
    expect_err "max-series: '0' is not a whole number from 1"
    ;;
  I1.4.time_unit)
    # Epoch milliseconds are refused with the unit named, never read as seconds; --time-unit ms
    # reads them.
    awk -F, -v OFS=, 'NR > 1 { $1 = sprintf("%.0f", $1 * 1000) } { print }' \
      "$data/cli_detect.csv" >ms.csv
    run baseline --strict ms.csv
    expect_rc 1
    expect_err 'time-unit ms'
    run baseline --time-unit ms ms.csv
    expect_rc 0
    cp out ms.base
    run baseline "$data/cli_detect.csv"
    expect_rc 0
    cmp -s out ms.base || fail "--time-unit ms did not give the table of the same times in seconds"
    ;;
  rule.ratio)
    simulate_formats
    run baseline --rule ratio train.csv
    expect_rc 0
    expect_out '^key,avg_inbound:outbound,avg_outbound:inbound,'
    cp out ratio_baseline.csv
    run detect --rule ratio --baseline ratio_baseline.csv sim.otlp
    expect_rc 0
    cp out ratio.otlp
    run detect --rule ratio --baseline ratio_baseline.csv sim.csv
    expect_rc 0
    bare out
    bare ratio.otlp
    same out.bare ratio.otlp.bare
    expect_golden out.bare simulated_ratio_findings.jsonl
    ;;
  input.threads)
    # A file large enough to be parsed on several threads (two 4 MiB segments or more) gives
    # the same baseline and findings as one thread (D1.4, B3: the stages see file order).
    "$bin" simulate --pods 30 --hours 5 --seed 5 --start $sim_start --incident exfil >big.csv \
      2>big.err || fail "simulate failed"
    [ "$(wc -c <big.csv)" -gt $((9 * 1024 * 1024)) ] || fail "big.csv is too small to be split"
    split=$((sim_start + 4 * 3600))
    for t in 1 2 3; do
      run baseline --threads $t --latest $split big.csv
      expect_rc 0
      cp out baseline.$t
      run detect --threads $t --baseline baseline.1 --earliest $split big.csv
      expect_rc 0
      cp out findings.$t
    done
    same baseline.1 baseline.2
    same baseline.1 baseline.3
    same findings.1 findings.2
    same findings.1 findings.3
    exfil_pod=$(sed -n 's/.*injected exfiltration: .* pod \([^,]*\),.*/\1/p' big.err)
    grep -q "\"k8s.pod.name\":\"$exfil_pod\"" findings.2 || fail "exfiltration not found"
    ;;
  simulate.deterministic)
    run simulate --pods 5 --hours 0.02 --seed 3 --incident exfil
    expect_rc 0
    expect_golden out simulated.csv
    expect_err 'injected exfiltration: cluster prod-eu, node node-[0-9]+, pod [a-z-]+-[0-9a-f]{9,10}-[a-z0-9]{5}, direction transmit'
    run simulate --pods 5 --hours 0.02 --seed 3 --incident exfil --format hec
    expect_rc 0
    expect_golden out simulated.hec.json
    run simulate --pods 5 --hours 0.02 --seed 3 --incident exfil --format otlp
    expect_rc 0
    expect_golden out simulated.otlp.json
    run simulate --pods 5 --hours 0.02 --seed 4
    expect_rc 0
    cmp -s out "$golden/simulated.csv" && fail "another seed gave the same data"
    expect_err 'injected no incidents'
    ;;
  demo)
    run demo
    expect_rc 0
    expect_out '^Built a baseline of [0-9]+ services'
    pod=$(sed -n 's/.*exfiltration from [^/]*\/[^/]*\/\([^ ]*\) .*/\1/p' out)
    [ -n "$pod" ] || fail "the demo did not name the injected pod"
    [ "$(grep -c -- "$pod" out)" -ge 2 ] || fail "the findings table does not show $pod"
    ;;
  O6.1.atomic_output)
    # A run that fails, stops or is refused leaves an existing -o file byte for byte as it was;
    # a run that succeeds replaces it; no temporary file is left behind either way.
    printf 'the previous good baseline\n' >target.csv
    cp target.csv previous.csv
    run baseline -o target.csv no-such-input.csv
    expect_rc 1
    same previous.csv target.csv
    run baseline --strict -o target.csv "$data/cli_malformed.csv"
    expect_rc 1
    same previous.csv target.csv
    run baseline --threads 65 -o target.csv "$data/cli_detect.csv"
    expect_rc 2
    same previous.csv target.csv
    run detect --baseline no-such-baseline.csv -o target.csv "$data/cli_detect.csv"
    expect_rc 1
    same previous.csv target.csv
    run detect --baseline "$data/cli_baseline.csv" -o target.csv "$data/cli_detect.csv" \
      no-such-input.csv
    expect_rc 1
    same previous.csv target.csv
    [ "$(ls -A | grep -c 'k8snetio-.*\.tmp$')" -eq 0 ] || fail "a temporary file was left: $(ls -A)"
    run baseline -o target.csv "$data/cli_detect.csv"
    expect_rc 0
    expect_golden target.csv baseline.csv
    # A symbolic link stays a link to the file it names, which is replaced.
    cp previous.csv real.csv
    ln -s real.csv link.csv
    run baseline -o link.csv "$data/cli_detect.csv"
    expect_rc 0
    [ -L link.csv ] || fail "the link was replaced by a file"
    expect_golden real.csv baseline.csv
    # A device is written in place.
    run baseline -o /dev/null "$data/cli_detect.csv"
    expect_rc 0
    [ -c /dev/null ] || fail "/dev/null is no longer a device"
    [ "$(ls -A | grep -c 'k8snetio-.*\.tmp$')" -eq 0 ] || fail "a temporary file was left: $(ls -A)"
    ;;
  O6.1.signal)
    # SIGTERM, SIGHUP or SIGINT while the program waits for input: it dies of the signal, the
    # previous -o file is intact and the temporary file is removed.
    set -m  # job control: background jobs keep SIGINT (else the shell ignores it for them)
    for sig in TERM HUP INT; do
      printf 'the previous good baseline\n' >target.csv
      rm -f input.fifo
      mkfifo input.fifo || fail "mkfifo failed"
      "$bin" baseline -o target.csv input.fifo 2>err &
      pid=$!
      exec 7>input.fifo  # opens once the program opened its end
      head -n 50 "$data/cli_detect.csv" >&7
      for _ in $(seq 100); do  # at most 5 s for the temporary file to appear
        ls -A | grep -q 'k8snetio-.*\.tmp$' && break
        sleep 0.05
      done
      ls -A | grep -q 'k8snetio-.*\.tmp$' || fail "SIG$sig: no temporary file while writing"
      kill -s $sig $pid
      wait $pid
      rc=$?
      exec 7>&-
      [ $rc -gt 128 ] || fail "SIG$sig: exit code $rc, expected death by the signal"
      [ "$(cat target.csv)" = "the previous good baseline" ] || fail "SIG$sig changed target.csv"
      [ "$(ls -A | grep -c 'k8snetio-.*\.tmp$')" -eq 0 ] || fail "SIG$sig left $(ls -A)"
    done
    ;;
  O6.1.kill)
    # SIGKILL at 20 points of runs that write -o over an existing file (baseline: one write at
    # the end; simulate: written as it goes): afterwards the file is byte for byte the old one
    # or the new one, never anything else. A temporary file may stay: no handler runs.
    "$bin" simulate --pods 40 --hours 6 --seed 11 --start $sim_start >big.csv 2>/dev/null ||
      fail "simulate failed"
    "$bin" baseline --latest $((sim_start + 3600)) big.csv >old.csv 2>/dev/null ||
      fail "baseline failed"
    "$bin" baseline big.csv >new.csv 2>/dev/null || fail "baseline failed"
    cmp -s old.csv new.csv && fail "the old and new tables should differ"
    "$bin" simulate --pods 40 --hours 2 --seed 12 --start $sim_start >new_sim.csv 2>/dev/null ||
      fail "simulate failed"
    # The length of one run, in ms, spreads the kills over it (and a little past its end).
    t0=$(date +%s%N)
    "$bin" baseline -o timing.csv big.csv 2>/dev/null || fail "baseline -o failed"
    baseline_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
    t0=$(date +%s%N)
    "$bin" simulate --pods 40 --hours 2 --seed 12 --start $sim_start -o timing.csv 2>/dev/null ||
      fail "simulate -o failed"
    simulate_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
    old_seen=0
    new_seen=0
    for i in $(seq 0 19); do
      for what in baseline simulate; do
        if [ $what = baseline ]; then
          cp old.csv target.csv
          "$bin" baseline -o target.csv big.csv 2>/dev/null &
          ms=$((baseline_ms * i * 6 / 100))
          new=new.csv
          old=old.csv
        else
          cp big.csv target.csv
          "$bin" simulate --pods 40 --hours 2 --seed 12 --start $sim_start -o target.csv \
            2>/dev/null &
          ms=$((simulate_ms * i * 6 / 100))
          new=new_sim.csv
          old=big.csv
        fi
        pid=$!
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        if cmp -s target.csv $old; then
          old_seen=$((old_seen + 1))
        elif cmp -s target.csv $new; then
          new_seen=$((new_seen + 1))
        else
          fail "$what killed after $ms ms: target.csv ($(wc -c <target.csv) bytes) is neither the old nor the new file"
        fi
        rm -f .target.csv.k8snetio-*.tmp
      done
    done
    echo "killed 40 runs: $old_seen left the old file, $new_seen the new one" >&2
    [ $old_seen -gt 0 ] || fail "no kill landed before the end of a run"
    ;;
  O6.2.output_is_input)
    # -o naming an input or the baseline (also through links, or standard input) is a usage
    # error before anything is opened for writing: the input is left as it was.
    cp "$data/cli_detect.csv" in.csv
    cp "$data/cli_baseline.csv" base.csv
    ln -s in.csv link.csv
    ln in.csv hard.csv
    for o in in.csv ./in.csv link.csv hard.csv "$PWD/in.csv"; do
      run baseline -o "$o" in.csv
      expect_rc 2
      expect_err "-o .* is the input in.csv"
      expect_empty_out
      same "$data/cli_detect.csv" in.csv
    done
    run detect --baseline base.csv -o base.csv in.csv
    expect_rc 2
    expect_err 'is the --baseline base.csv'
    same "$data/cli_baseline.csv" base.csv
    run detect --baseline base.csv -o link.csv in.csv
    expect_rc 2
    expect_err 'the same file through a link'
    "$bin" baseline -o in.csv - <in.csv >out 2>err
    rc=$?
    expect_rc 2
    expect_err 'is standard input'
    same "$data/cli_detect.csv" in.csv
    # Another file, or a new one, is fine.
    run baseline -o other.csv in.csv
    expect_rc 0
    expect_golden other.csv baseline.csv
    ;;
  O6.2.usage_errors_people_can_read)
    # Values out of range are usage errors (exit 2) that say what was wrong in a few words.
    check_usage() {
      local pattern=$1
      shift
      run "$@"
      expect_rc 2
      expect_err "$pattern"
      [ "$(wc -c <err)" -lt 400 ] || fail "k8s-netio $*: the message is too long: $(cat err)"
      expect_empty_out
    }
    b=("--baseline" "$data/cli_baseline.csv")
    check_usage "--hours: 'nan' is not a number from 0.01 to 8784" simulate --hours nan
    check_usage "--hours: 'inf' is not a number" simulate --hours inf
    check_usage "--seed: '-1' is not a whole number" simulate --seed -1
    check_usage "--seed: '18446744073709551616' is not a whole number" \
      simulate --seed 18446744073709551616
    check_usage "--pods: '0' is not a whole number from 1 to 100000" simulate --pods 0
    check_usage "--min-count: '-5' is not a whole number" \
      detect "${b[@]}" --min-count=-5 "$data/cli_detect.csv"
    check_usage "--sigma: 'nan' is not a positive number" \
      detect "${b[@]}" --sigma nan "$data/cli_detect.csv"
    check_usage "--sigma: 'inf' is not a positive number" \
      detect "${b[@]}" --sigma inf "$data/cli_detect.csv"
    check_usage "--sigma: '-2' is not a positive number" \
      detect "${b[@]}" --sigma=-2 "$data/cli_detect.csv"
    check_usage "--threads: '65' is not a whole number from 0 to 64" \
      baseline --threads 65 "$data/cli_detect.csv"
    check_usage "--service-pattern: .*missing terminating \] .* at offset 3" \
      baseline --service-pattern '[a-' "$data/cli_detect.csv"
    run simulate --seed 18446744073709551615 --pods 2 --hours 0.01
    expect_rc 0
    ;;
  O6.3.escaped_diagnostics)
    # A cell and a file name that try to forge a log line and clear the terminal: the summary
    # shows them escaped, on its own single line.
    esc=$(printf '\033')
    evil="evil${esc}[2J.csv"
    {
      head -n 1 "$data/cli_detect.csv"
      printf '1700000000.5,k8s.pod.network.io,"1\n%s[2Jk8s-netio: FORGED",prod,n1,p-abcde,transmit,eth0\n' "$esc"
      sed -n 2,5p "$data/cli_detect.csv"
    } >"$evil"
    run baseline "$evil"
    expect_rc 0
    if grep -q "$esc" err; then fail "an escape character reached standard error: $(cat -v err)"; fi
    [ "$(grep -c 'FORGED' err)" -eq 1 ] || fail "the cell is not on the summary line: $(cat -v err)"
    if grep -q '^k8s-netio: FORGED' err; then fail "the cell forged a log line"; fi
    expect_err "evil\\\\x1b\\[2J\\.csv:2: bad number: _value='1\\\\n\\\\x1b\\[2Jk8s-netio: FORGED'"
    ;;
  O6.4.stderr_closed_or_full)
    # Standard error closed or full: no crash, the same exit code and the same output.
    cp "$data/cli_baseline.csv" base.csv
    n=0
    while IFS= read -r line; do
      n=$((n + 1))
      eval "set -- $line"
      expected=$1
      shift
      "$bin" "$@" >out.ok 2>err.ok </dev/null
      rc=$?
      [ $rc -eq "$expected" ] || fail "k8s-netio $*: exit code $rc, expected $expected: $(cat err.ok)"
      "$bin" "$@" >out.closed 2>&- </dev/null
      rc=$?
      [ $rc -eq "$expected" ] || fail "k8s-netio $* 2>&-: exit code $rc, expected $expected"
      "$bin" "$@" >out.full 2>/dev/full </dev/null
      rc=$?
      [ $rc -eq "$expected" ] || fail "k8s-netio $* 2>/dev/full: exit code $rc, expected $expected"
      same out.ok out.closed
      same out.ok out.full
    done <<COMMANDS
0 baseline "$data/cli_detect.csv"
0 baseline -o table.csv "$data/cli_detect.csv"
0 detect --baseline base.csv "$data/cli_detect.csv"
0 detect --baseline base.csv --format table "$data/cli_detect.csv"
0 detect --baseline base.csv "$data/cli_malformed.csv"
1 detect --strict --baseline base.csv "$data/cli_malformed.csv"
1 detect --baseline no-such.csv "$data/cli_detect.csv"
1 baseline no-such.csv
2 baseline --no-such-option "$data/cli_detect.csv"
2 baseline -o base.csv base.csv
0 simulate --pods 3 --hours 0.02
2 simulate --hours nan
0 demo
0 --help
0 --version
COMMANDS
    [ $n -eq 15 ] || fail "ran $n commands, expected 15"
    # With -o and standard error closed, no message can end up in the output file.
    "$bin" baseline -o table.csv "$data/cli_detect.csv" 2>&-
    expect_golden table.csv baseline.csv
    ;;
  O3.1.risk_events)
    detect_fixture --format risk
    expect_rc 0
    expect_golden out findings.risk.json
    # --hec-index replaces the risk index
    detect_fixture --format risk --hec-index risk_k8s
    expect_rc 0
    [ "$(grep -c '"index":"risk_k8s"' out)" -eq 3 ] || fail "--hec-index not on every event"
    ;;
  D8.1.allowlist)
    printf '%s\n' '# the cart service is known to burst' '' \
      'k8s.service=cart   k8s.cluster.name=pr?d  # both must hold' \
      'k8s.service=checkout host=node-9' \
      'k8s.namespace.name=*' >allow.txt
    detect_fixture --allowlist allow.txt
    expect_rc 0
    [ "$(wc -l <out)" -eq 2 ] || fail "expected 2 findings after the allowlist, got $(wc -l <out)"
    grep -q '"k8s.service":"cart"' out && fail "the cart finding was not suppressed"
    expect_err '2 findings, 1 suppressed by the allowlist'
    # Without the file, nothing is suppressed and the summary does not mention it.
    detect_fixture
    expect_rc 0
    [ "$(wc -l <out)" -eq 3 ] || fail "expected 3 findings without the allowlist"
    grep -q suppressed err && fail "the summary mentions an allowlist that was not given"
    ;;
  D8.1.allowlist_malformed)
    printf '%s\n' '# ok' 'host=node-1' 'k8s.service cart' >allow.txt
    # The allowlist is checked before any input is read: the missing input is never reached.
    run detect --baseline "$data/cli_baseline.csv" --allowlist allow.txt missing-input.csv
    expect_rc 1
    expect_empty_out
    expect_err 'allow.txt:3:1: .k8s.service. is not a field=glob condition'
    grep -q missing-input err && fail "an input was read before the allowlist was checked"
    printf '%s\n' 'k8s.node.name=node-1' >unknown.txt
    detect_fixture --allowlist unknown.txt
    expect_rc 1
    expect_err "unknown.txt:1:1: unknown field 'k8s.node.name'"
    detect_fixture --allowlist no-such-allowlist.txt
    expect_rc 1
    expect_err 'no-such-allowlist.txt'
    ;;
  D5.4.unbaselined)
    detect_fixture --unbaselined keys.csv
    expect_rc 0
    expect_golden keys.csv unbaselined.csv
    expect_err "1 key has no baseline row and cannot alert .*'staging:newcomer'; all of them in keys.csv"
    # Without the option the summary still names it, and says how to get them all.
    detect_fixture
    expect_rc 0
    expect_err "'staging:newcomer'; --unbaselined FILE lists them all"
    # O6.1: a failing run leaves the previous file as it was.
    echo previous >keys.csv
    run detect --baseline "$data/cli_baseline.csv" --unbaselined keys.csv missing-input.csv
    expect_rc 1
    [ "$(cat keys.csv)" = previous ] || fail "a failed run replaced --unbaselined's file"
    # O6.2: it must not name an input.
    cp "$data/cli_detect.csv" in.csv
    run detect --baseline "$data/cli_baseline.csv" --unbaselined in.csv in.csv
    expect_rc 2
    expect_err '--unbaselined in.csv is the input in.csv'
    ;;
  O5.html_report)
    detect_fixture --format html -o report.html
    expect_rc 0
    [ "$(grep -o '<svg' report.html | wc -l)" -eq 3 ] || fail "expected one chart per finding"
    grep -qi '<script' report.html && fail "the report has a script"
    grep -q 'staging:newcomer' report.html || fail "the report does not name the unbaselined key"
    grep -q 'bytes per 10 s span' report.html || fail "the y axis has no unit"
    grep -q 'time (UTC)' report.html || fail "the x axis has no label"
    # Ordered by largest z: the pod with z 7 first.
    first=$(grep -o '<section id="finding-1"><h2>1\. [^<]*' report.html)
    case $first in *checkout-7d4b9c8f6d-k2lpx*) ;; *) fail "finding 1 is not the largest z: $first" ;; esac
    ;;
  O5.html_report_browser)
    browser=$(command -v chromium || command -v chromium-browser || true)
    if [ -z "$browser" ]; then
      echo "SKIP: no chromium (apt-get install chromium to run this case)"
      exit 77
    fi
    # Three pods with hostile names (markup, quotes, an escape character) above their baseline
    # in 8 buckets, and one calm pod.
    esc=$(printf '\033')
    {
      echo 'metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction,interface'
      for i in 0 1 2 3 4 5 6 7 8 9; do
        t=$((1700000000 + 10 * i))
        v=$((1500 + 100 * i))
        echo "$t,k8s.pod.network.io,$v,prod,node-1,<script>alert(1)</script>-abcde,transmit,eth0"
        echo "$t,k8s.pod.network.io,$((v * 2)),prod,node-1,<script>alert(1)</script>-abcde,receive,eth0"
        echo "$t,k8s.pod.network.io,$((v + 300)),prod,\"node-\"\"2\"\"\",\"q\"\"x'-abcde\",transmit,eth0"
        echo "$t,k8s.pod.network.io,$((v + 600)),prod,node-3,esc${esc}[31m-abcde,transmit,eth0"
        echo "$t,k8s.pod.network.io,1000,prod,node-3,calm-abcde,transmit,eth0"
      done
    } >hostile.csv
    {
      echo 'key,avg_outbound_network_io,avg_inbound_network_io,stdev_outbound_network_io,stdev_inbound_network_io,count,last_seen'
      echo 'prod:<script>alert(1)</script>,1000,2000,100,200,100,1699999990'
      echo "\"prod:q\"\"x'\",1000,2000,100,200,100,1699999990"
      echo "prod:esc${esc}[31m,1000,2000,100,200,100,1699999990"
      echo 'prod:calm,1000,2000,100,200,100,1699999990'
    } >hostile_baseline.csv
    run detect --baseline hostile_baseline.csv --format html -o report.html hostile.csv
    expect_rc 0
    [ "$(grep -o '<svg' report.html | wc -l)" -eq 3 ] || fail "expected 3 charts"
    grep -q '<script>' report.html && fail "a pod name reached the page unescaped"
    "$browser" --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
      --user-data-dir="$PWD/profile" --enable-logging=stderr --v=0 --window-size=1280,2400 \
      --screenshot="$PWD/report.png" "file://$PWD/report.html" >browser.out 2>browser.err
    [ -s report.png ] || { cat browser.err >&2; fail "chromium took no screenshot"; }
    if grep -E 'CONSOLE|Uncaught|Refused to' browser.err >&2; then
      fail "the page logged console errors"
    fi
    "$browser" --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
      --user-data-dir="$PWD/profile" --dump-dom "file://$PWD/report.html" >dom.html 2>/dev/null
    # As the browser parsed it: one chart per finding, no script element, the names as text.
    [ "$(grep -o '<svg' dom.html | wc -l)" -eq 3 ] || fail "the browser sees $(grep -o '<svg' dom.html | wc -l) charts, expected 3"
    grep -qi '<script' dom.html && fail "the browser built a script element"
    grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' dom.html || fail "the hostile name is not shown as text"
    if command -v python3 >/dev/null; then
      python3 "$(dirname "$0")/png_not_blank.py" report.png 8 || fail "the screenshot is blank"
    fi
    ;;
  *)
    fail "unknown case"
    ;;
esac
exit 0
