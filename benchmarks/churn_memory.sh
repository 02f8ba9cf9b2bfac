#!/usr/bin/env bash
# engine.md S5: peak memory of `k8s-netio baseline` and `detect` on a time-major metrics_csv
# file in which pods are replaced all the time (new names every rollout): N distinct pod names
# over time, ALIVE at once, each living LIFE 10-second buckets, one service. Prints wall time
# and peak RSS (GNU time) for each command.
#
#   benchmarks/churn_memory.sh K8S_NETIO [--pods N] [--alive A] [--life L] [--workdir DIR]
#
# Defaults: 1,000,000 pods, 100 alive, 20 buckets each (the file is about 4 M rows, 330 MB).
set -euo pipefail

k8s_netio=${1:?usage: churn_memory.sh K8S_NETIO [--pods N] [--alive A] [--life L]}
shift
pods=1000000 alive=100 life=20 workdir=${TMPDIR:-/tmp}/k8snetio-churn
while [ $# -gt 0 ]; do
  case $1 in
    --pods) pods=$2; shift 2 ;;
    --alive) alive=$2; shift 2 ;;
    --life) life=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    *) echo "churn_memory: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "churn_memory: needs GNU time (apt-get install time)" >&2; exit 1; }
mkdir -p "$workdir"
input=$workdir/churn-$pods-$alive-$life.csv
if [ ! -s "$input" ]; then
  echo "churn_memory: writing $input" >&2
  # Pod p lives in buckets [p/step, p/step + life), step = alive/life new pods a bucket.
  awk -v pods="$pods" -v alive="$alive" -v life="$life" 'BEGIN {
    print "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction"
    step = int(alive / life); if (step < 1) step = 1
    buckets = int(pods / step) + life
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    for (b = 0; b < buckets; b++) {
      first = (b - life + 1) * step; if (first < 0) first = 0
      last = (b + 1) * step; if (last > pods) last = pods
      t = 1700000000 + 10 * b
      for (p = first; p < last; p++) {
        v = p; name = ""
        for (k = 0; k < 5; k++) { name = substr(digits, v % 36 + 1, 1) name; v = int(v / 36) }
        printf "%d.5,k8s.pod.network.io,%d,prod,node-1,web-7d4b9c8f6d-%s,transmit\n", t, 1000 + (p * 7 + b) % 97, name
        printf "%d.5,k8s.pod.network.io,%d,prod,node-1,web-7d4b9c8f6d-%s,receive\n", t, 3000 + (p * 3 + b) % 89, name
      }
    }
  }' > "$input.tmp"
  mv "$input.tmp" "$input"
fi
echo "input: $(wc -l < "$input") lines, $(du -m "$input" | cut -f1) MB, $pods pod names, $alive alive"

measure() {
  local name=$1; shift
  /usr/bin/time -v "$@" > "$workdir/$name.out" 2> "$workdir/$name.time" ||
    { cat "$workdir/$name.time" >&2; echo "churn_memory: $name failed" >&2; exit 1; }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$workdir/$name.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$workdir/$name.time")
  printf '%-9s peak RSS %8s MiB   wall %s\n' "$name" "$rss" "$wall"
}
measure baseline "$k8s_netio" baseline --threads 1 -o "$workdir/baseline.csv" "$input"
measure detect "$k8s_netio" detect --threads 1 --baseline "$workdir/baseline.csv" --window 1h \
  -o "$workdir/findings.jsonl" "$input"
