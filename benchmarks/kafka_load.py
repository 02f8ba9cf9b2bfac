#!/usr/bin/env python3
"""Load benchmark of `k8s-netio consume` (service.md K7) on librdkafka's mock cluster.

Produces H simulated hours of P pods as OTLP JSON messages keyed by pod (one resource per
message, as the collector's kafka exporter partitions by resource) into a 6-partition topic of
a 3-broker mock cluster (tests/kafka/kafka_helper, lz4), then runs 1, then 2, ... consumers of
one group over the same messages (a fresh group each time) and reports, per consumer, points
per second from its first to its last message (the consumer's own summary line), and the wall
time from start to all offsets committed. Every point is checked: accepted + rejected =
produced (a MISMATCH means the mock's partitions dropped their oldest messages: each keeps only
its last 5 MiB, lz4-compressed here; 100 pods for 2 hours fit). Mock-cluster figures over
loopback: the brokers run in the helper's process on the same cores.

    kafka_load.py --k8s-netio BIN --helper BIN [--pods 100] [--hours 2] [--consumers 1,2]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "kafka"))
import kafka_test as k  # noqa: E402  (the tests' cluster, producer and data helpers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--k8s-netio", required=True)
    parser.add_argument("--helper", required=True)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--hours", type=float, default=2)
    parser.add_argument("--consumers", default="1,2")
    parser.add_argument("--partitions", type=int, default=24,
                        help="more partitions hold more data (the mock keeps 5 MiB each)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "k8snetio-kafka-load"))
    args = parser.parse_args()
    k.BIN, k.HELPER, k.WORK = args.k8s_netio, args.helper, args.work
    k.PARTITIONS = args.partitions
    os.makedirs(k.WORK, exist_ok=True)

    # A short training (the figures do not depend on the findings) and the load itself.
    train, base, load = (os.path.join(k.WORK, n) for n in ("train.csv", "base.csv", "load.otlp"))
    k.run("simulate", "--pods", str(args.pods), "--hours", "2", "--seed", "7", "--start",
          str(k.HOUR - 7200), "-o", train)
    k.run("baseline", train, "-o", base)
    k.run("simulate", "--pods", str(args.pods), "--hours", str(args.hours), "--seed", "8",
          "--start", str(k.HOUR), "--incident", "exfil", "--format", "otlp", "-o", load)
    messages = []
    import json
    with open(load) as f:
        for line in f:
            if line.strip():
                for rm in json.loads(line)["resourceMetrics"]:
                    pod = next(a["value"]["stringValue"] for a in rm["resource"]["attributes"]
                               if a["key"] == "k8s.pod.name")
                    points = sum(len(m.get(kind, {}).get("dataPoints", []))
                                 for sm in rm.get("scopeMetrics", [])
                                 for m in sm.get("metrics", []) for kind in ("sum", "gauge"))
                    messages.append((pod.encode(),
                                     json.dumps({"resourceMetrics": [rm]},
                                                separators=(",", ":")).encode(), points))
    produced = k.produced_points(messages)
    size = sum(len(v) for _, v, _ in messages)
    print(f"{len(messages):,} messages ({size / 2**20:.1f} MiB of OTLP JSON), {produced:,} points, "
          f"{args.pods} pods, {args.hours} h")

    cluster = k.Cluster()
    try:
        started = time.monotonic()
        cluster.produce(k.TOPIC, k.keyed(messages) + k.ticks())
        print(f"produced in {time.monotonic() - started:.1f} s")
        for run, n in enumerate(int(x) for x in args.consumers.split(",")):
            k.GROUP = f"load-{run}-{n}"  # a fresh group: each run reads everything
            k.STATE_TOPIC = "k8snetio-test.k8snetio-state"  # created by the cluster
            started = time.monotonic()
            consumers = [k.Consumer(cluster, "--state-topic", k.STATE_TOPIC, "-o",
                                    os.path.join(k.WORK, f"out-{run}-{i}.jsonl"),
                                    name=f"c{run}-{i}")
                         for i in range(n)]
            cluster.wait_committed_to_end(timeout=600)
            wall = time.monotonic() - started
            for c in consumers:
                c.proc.send_signal(signal.SIGTERM)
            total, rates, spans = 0, [], []
            for c in consumers:
                rc = c.stop(timeout=120)
                err = c.stderr()
                a, r = k.summary_points(err)
                total += a + r
                m = re.search(r"([\d.]+) s from the first message to the last \(from ([\d.]+) "
                              r"epoch\): ([\d,]+) points/s", err)
                if m:
                    rates.append((float(m.group(1)), int(m.group(3).replace(",", ""))))
                    spans.append((float(m.group(2)), float(m.group(2)) + float(m.group(1))))
                if rc != 0:
                    print(err)
            per = ", ".join(f"{r:,} points/s over {s:.1f} s" for s, r in rates)
            # The group's rate: every point over the span from the first consumer's first
            # message to the last consumer's last (the clock is the machine's, shared).
            span = max(e for _, e in spans) - min(b for b, _ in spans) if spans else 0
            print(f"{n} consumer{'s' if n > 1 else ''}: {per}; the group "
                  f"{total / max(span, 1e-9):,.0f} points/s over {span:.1f} s; "
                  f"wall to all committed {wall:.1f} s (group join included); "
                  f"accounted {total:,} of {produced:,} points"
                  f"{'' if total == produced else ' — MISMATCH'}")
    finally:
        for p in k.PROCS:
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    main()
