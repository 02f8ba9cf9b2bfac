#!/usr/bin/env bash
# k8s-netio against DuckDB (the peer in ../shared/peers: the same baseline and detection as SQL)
# on the same generated metrics_csv files: wall time and peak RSS (median of N runs, via
# /usr/bin/time -v), the answers checked for agreement, and the ratios. Also a bare parse of
# the training file on the threads k8s-netio uses (benchmarks/parse_file.cpp: the same parallel
# reader into a sink that only sums), so that the baseline's time is put next to reading alone.
#
#   benchmarks/compare_duckdb.sh [--pods N] [--hours H] [--detect-hours H] [--runs N]
#                                [--threads N] [--workdir DIR] [--k8s-netio PATH]
#                                [--parse-file PATH] [--regen]
#
# Defaults are the issue's: 1000 pods, a 6-hour training file and the following hour to
# detect, 3 runs each, DuckDB with 2 threads. Everything it needs is set up on the way:
# python3-numpy (apt-get) for gen_scale.py, DuckDB (`npm install` of a copy of the peer folder,
# which stays read-only), the files (kept in the workdir and reused while their parameters
# match), and k8s-netio (a Release build in build/bench unless --k8s-netio is given).
# Environment: K8SNETIO_PEERS (the peer folder; default ../shared/peers next to the repo).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

pods=1000 hours=6 detect_hours=1 runs=3 threads=2 regen=0
workdir=${TMPDIR:-/tmp}/k8snetio-bench
k8s_netio=""
parse_file=""
peers=${K8SNETIO_PEERS:-$repo/../shared/peers}

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --pods) pods=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --detect-hours) detect_hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --k8s-netio) k8s_netio=$2; shift 2 ;;
    --parse-file) parse_file=$2; shift 2 ;;
    --regen) regen=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "compare_duckdb: unknown argument $1" >&2; usage ;;
  esac
done

say() { echo "compare_duckdb: $*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# --- what it needs -------------------------------------------------------------------------
[ -x /usr/bin/time ] || { say "installing GNU time"; as_root apt-get install -y time >&2 || die "needs /usr/bin/time"; }
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  say "installing python3-numpy (gen_scale.py needs it)"
  as_root apt-get install -y python3-numpy >&2 || die "could not install python3-numpy"
fi
command -v node >/dev/null && command -v npm >/dev/null || die "needs node and npm for the DuckDB peer"
[ -f "$peers/duckdb_peer.mjs" ] || die "no DuckDB peer in $peers (set K8SNETIO_PEERS)"

mkdir -p "$workdir"
peer=$workdir/peer
if [ ! -d "$peer/node_modules/@duckdb/node-api" ] || ! cmp -s "$peers/package-lock.json" "$peer/package-lock.json"; then
  say "npm install of the DuckDB peer into $peer"
  rm -rf "$peer" && mkdir -p "$peer"
  cp "$peers"/duckdb_peer.mjs "$peers"/gen_scale.py "$peers"/package.json "$peers"/package-lock.json "$peer"/
  chmod u+w "$peer"/*
  (cd "$peer" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
cp -f "$peers"/duckdb_peer.mjs "$peers"/gen_scale.py "$peer"/ 2>/dev/null || true

if [ -z "$k8s_netio" ]; then
  build=$repo/build/bench
  if [ ! -f "$build/CMakeCache.txt" ]; then
    say "configuring a Release build in $build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DK8SNETIO_TEST=OFF \
      -DK8SNETIO_INSTALL=OFF >&2
  fi
  say "building k8s-netio (Release)"
  cmake --build "$build" --target k8s-netio -j"$(nproc)" >&2
  k8s_netio=$build/examples/k8s-netio/k8s-netio
fi
[ -x "$k8s_netio" ] || die "no k8s-netio at $k8s_netio"
if [ -z "$parse_file" ]; then
  # Built as CMake's Release builds k8s-netio (-O3 -DNDEBUG), from this checkout's headers.
  parse_file=$workdir/parse_file
  if [ ! -x "$parse_file" ] || [ -n "$(find "$repo/include" "$here/parse_file.cpp" -newer "$parse_file" -print -quit)" ]; then
    say "building parse_file (a bare parse, -O3)"
    ${CXX:-g++} -std=c++20 -O3 -DNDEBUG -I"$repo/include" "$here/parse_file.cpp" -o "$parse_file" \
      -lfmt -lz -lzstd -pthread >&2 || die "could not build parse_file"
  fi
fi
[ -x "$parse_file" ] || die "no parse_file at $parse_file"

# --- the files -----------------------------------------------------------------------------
start=1700000000
# As in the peer's README: the detection hour starts an hour after the training ends.
detect_start=$(/usr/bin/python3 -c "print(int($start + $hours * 3600 + 3600))")
train=$workdir/train-${pods}p-${hours}h.csv
detect=$workdir/detect-${pods}p-${detect_hours}h.csv
gen() {  # OUT HOURS SEED START
  if [ "$regen" = 1 ] || [ ! -s "$1" ] || [ "$(cat "$1.params" 2>/dev/null)" != "$*" ]; then
    say "generating $1"
    /usr/bin/python3 "$peer/gen_scale.py" "$1" --pods "$pods" --hours "$2" --seed "$3" --start "$4" 2>"$1.log" ||
      { cat "$1.log" >&2; die "gen_scale.py failed"; }
    echo "$*" >"$1.params"
  fi
}
gen "$train" "$hours" 1 "$start"
gen "$detect" "$detect_hours" 2 "$detect_start"

# --- the runs ------------------------------------------------------------------------------
out=$workdir/out
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run NAME OUTFILE CMD...: runs CMD $runs times (stdout to OUTFILE), one "wall rss cpu" line
# per run in $out/NAME.times (seconds, KiB, user+sys seconds).
run() {
  local name=$1 file=$2; shift 2
  : >"$out/$name.times"
  for i in $(seq "$runs"); do
    /usr/bin/time -v -o "$out/$name.$i.time" "$@" >"$file" 2>"$out/$name.$i.err" ||
      { cat "$out/$name.$i.err" >&2; die "$name failed"; }
    awk -F': ' '
      /Elapsed \(wall clock\)/ { n = split($2, t, ":"); w = 0; for (j = 1; j <= n; j++) w = w * 60 + t[j] }
      /Maximum resident set size/ { r = $2 }
      /User time/ { u = $2 } /System time/ { s = $2 }
      END { printf "%.3f %d %.2f\n", w, r, u + s }' "$out/$name.$i.time" >>"$out/$name.times"
    say "$name run $i: $(tail -1 "$out/$name.times" | awk '{printf "%.2f s wall, %.0f MiB peak RSS, %.2f s CPU", $1, $2 / 1024, $3}')"
  done
}

run k8s_baseline "$out/base-k8s.csv" "$k8s_netio" baseline "$train"
run k8s_parse "$out/parse.txt" "$parse_file" "$train"
run duck_baseline "$out/base-duck.csv" node "$peer/duckdb_peer.mjs" baseline --threads "$threads" "$train"
# Both detections read the same table (k8s-netio's), so that only the detection is compared.
run k8s_detect "$out/findings-k8s.jsonl" "$k8s_netio" detect --baseline "$out/base-k8s.csv" "$detect"
run duck_detect "$out/findings-duck.jsonl" node "$peer/duckdb_peer.mjs" detect --threads "$threads" \
  --baseline "$out/base-k8s.csv" "$detect"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# k8s-netio parses on every core by default; one thread must give the same bytes.
"$k8s_netio" baseline --threads 1 "$train" >"$out/base-k8s-t1.csv" 2>/dev/null
"$k8s_netio" detect --threads 1 --baseline "$out/base-k8s.csv" "$detect" >"$out/findings-k8s-t1.jsonl" 2>/dev/null
threads_check="byte-identical to --threads 1 (baseline and findings)"
cmp -s "$out/base-k8s.csv" "$out/base-k8s-t1.csv" && cmp -s "$out/findings-k8s.jsonl" "$out/findings-k8s-t1.jsonl" ||
  threads_check="DIFFERENT from --threads 1"

# --- the answers ---------------------------------------------------------------------------
if cmp -s "$out/base-k8s.csv" "$out/base-duck.csv"; then
  baseline_check="byte-identical ($(($(wc -l <"$out/base-k8s.csv") - 1)) keys)"
else
  baseline_check=$(/usr/bin/python3 - "$out/base-k8s.csv" "$out/base-duck.csv" <<'EOF'
import csv, sys
a, b = (list(csv.DictReader(open(p, newline=""))) for p in sys.argv[1:3])
if [r["key"] for r in a] != [r["key"] for r in b]:
    print("DIFFERENT keys"); sys.exit()
worst = 0.0
for ra, rb in zip(a, b):
    for col in ra:
        x, y = ra[col], rb.get(col, "")
        if x == y: continue
        if x == "" or y == "": print(f"DIFFERENT: {ra['key']} {col}: {x!r} vs {y!r}"); sys.exit()
        fx, fy = float(x), float(y)
        worst = max(worst, abs(fx - fy) / max(abs(fx), abs(fy)))
print(("numerically equal, not byte-identical: worst relative difference %.3g" % worst)
      + ("" if worst <= 1e-12 else " (MORE than 1e-12)"))
EOF
)
fi
findings_check=$(/usr/bin/python3 - "$out/findings-k8s.jsonl" "$out/findings-duck.jsonl" <<'EOF'
import json, sys
def load(p):
    s = set()
    for line in open(p):
        if line.strip():
            f = json.loads(line)
            s.add((f["k8s.cluster.name"], f["host"], f["k8s.pod.name"], f["k8s.service"], int(f["count"]),
                   tuple(f["anomalies"])))
    return s
a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"identical ({len(a)} findings)" if a == b else
      f"DIFFERENT: {len(a - b)} only in k8s-netio, {len(b - a)} only in DuckDB")
EOF
)

# --- the table -----------------------------------------------------------------------------
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v c="$2" '{print $c}' "$out/$1.times" | median; }
train_mb=$(($(stat -L -c %s "$train") / 1000000))
detect_mb=$(($(stat -L -c %s "$detect") / 1000000))
train_rows=$(($(wc -l <"$train") - 1))
detect_rows=$(($(wc -l <"$detect") - 1))

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(date -u '+%Y-%m-%d %H:%M UTC'); load average $load_before before, $load_after after"
echo "files: train $pods pods x ${hours} h = $train_mb MB, $train_rows rows; detect ${detect_hours} h = $detect_mb MB, $detect_rows rows"
echo "median of $runs runs; DuckDB with --threads $threads; k8s-netio (parsing on every core): $k8s_netio"
echo
printf '%-9s %-10s %9s %9s %10s %13s %10s\n' step side "wall s" "CPU s" "peak MiB" "Mpoints/s" "MB/s"
for step in baseline detect; do
  rows=$train_rows mb=$train_mb; [ $step = detect ] && rows=$detect_rows mb=$detect_mb
  for side in k8s duck; do
    w=$(col ${side}_$step 1) r=$(col ${side}_$step 2) c=$(col ${side}_$step 3)
    name=k8s-netio; [ $side = duck ] && name=DuckDB
    awk -v s=$step -v n=$name -v w="$w" -v r="$r" -v c="$c" -v rows="$rows" -v mb="$mb" \
      'BEGIN { printf "%-9s %-10s %9.2f %9.2f %10.0f %13.2f %10.0f\n", s, n, w, c, r / 1024, rows / w / 1e6, mb / w }'
  done
  awk -v a="$(col k8s_$step 1)" -v b="$(col duck_$step 1)" -v ra="$(col k8s_$step 2)" -v rb="$(col duck_$step 2)" \
    -v ca="$(col k8s_$step 3)" -v cb="$(col duck_$step 3)" -v s=$step \
    'BEGIN { printf "%-9s %-10s %.2fx faster wall (target >= 8x: %s), %.2fx less CPU, %.2fx less peak RSS\n",
                    s, "ratio", b / a, (b / a >= 8 ? "met" : "NOT met"), cb / ca, rb / ra }'
done
# The baseline against reading alone: the same file, parser and threads.
w=$(col k8s_parse 1) r=$(col k8s_parse 2) c=$(col k8s_parse 3)
awk -v w="$w" -v r="$r" -v c="$c" -v rows="$train_rows" -v mb="$train_mb" \
  'BEGIN { printf "%-9s %-10s %9.2f %9.2f %10.0f %13.2f %10.0f\n", "parse", "bare", w, c, r / 1024, rows / w / 1e6, mb / w }'
awk -v a="$(col k8s_baseline 1)" -v p="$w" -v ca="$(col k8s_baseline 3)" -v cp="$c" \
  'BEGIN { printf "%-9s %-10s baseline / bare parse: %.2fx the wall time (target <= 1.5x: %s), %.2fx the CPU\n",
                  "parse", "ratio", a / p, (a / p <= 1.5 ? "met" : "NOT met"), ca / cp }'
echo "bare parse: $(sed -n 1p "$out/parse.txt" | sed 's/^.*: //')"
busy=$(awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { print (l > n / 2) ? 1 : 0 }')
[ "$busy" = 1 ] && echo "note: the machine was busy (load $load_before on $(nproc) CPUs): wall times are" \
  "pessimistic, DuckDB's most (its 2 threads need 2 idle cores); the CPU s column is steadier"
echo
echo "baseline tables: $baseline_check"
echo "findings: $findings_check"
echo "k8s-netio on $(nproc) threads: $threads_check"
