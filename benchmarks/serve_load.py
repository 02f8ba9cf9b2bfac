#!/usr/bin/env python3
"""Load generator for `k8s-netio serve` (service.md L7): OTLP/HTTP JSON over loopback.

Starts the service on 127.0.0.1:0 (trained on a simulated day), then pushes scrapes of
--series cumulative series (two directions per pod) in requests of about --points-per-request
points from --clients keep-alive connections, and reports points per second, request latency
percentiles, the service's accounting (accepted + rejected = sent) and its peak RSS.

    benchmarks/serve_load.py --k8s-netio build/examples/k8s-netio/k8s-netio
"""
import argparse
import http.client
import os
import re
import select
import socket
import subprocess
import tempfile
import threading
import time

POD = ('{{"resource":{{"attributes":[{{"key":"k8s.cluster.name","value":{{"stringValue":"load"}}}},'
       '{{"key":"k8s.node.name","value":{{"stringValue":"node-{node}"}}}},'
       '{{"key":"k8s.pod.name","value":{{"stringValue":"checkout-{pod:06d}-abcde"}}}}]}},'
       '"scopeMetrics":[{{"metrics":[{{"name":"k8s.pod.network.io","sum":{{'
       '"aggregationTemporality":2,"isMonotonic":true,"dataPoints":['
       '{{"startTimeUnixNano":"1","timeUnixNano":"{t}","asInt":"{rx}","attributes":'
       '[{{"key":"direction","value":{{"stringValue":"receive"}}}}]}},'
       '{{"startTimeUnixNano":"1","timeUnixNano":"{t}","asInt":"{tx}","attributes":'
       '[{{"key":"direction","value":{{"stringValue":"transmit"}}}}]}}]}}}}]}}]}}')


def bodies(pods, scrapes, pods_per_request, start):
    for s in range(scrapes):
        t = (start + 10 * s) * 10**9
        for first in range(0, pods, pods_per_request):
            parts = [POD.format(node=p % 50, pod=p, t=t, rx=1000 * (s + 1) + p, tx=2000 * (s + 1))
                     for p in range(first, min(pods, first + pods_per_request))]
            yield ('{"resourceMetrics":[' + ",".join(parts) + "]}").encode(), 2 * len(parts)


class NoDelayConnection(http.client.HTTPConnection):
    """TCP_NODELAY, as Go's HTTP client (the collector's) sets it: http.client sends headers
    and body in two writes, and Nagle's algorithm would hold the body's tail for a delayed ACK."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-netio", required=True)
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--scrapes", type=int, default=60)
    ap.add_argument("--points-per-request", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every point is accounted for and every reply is 200 "
                         "(the ctest case serve.L7.load_accounting runs a small load with it)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="serve-load-")
    binary = args.k8s_netio
    subprocess.run([binary, "simulate", "--pods", "8", "--hours", "24", "--seed", "7", "-o",
                    f"{work}/train.csv"], check=True, capture_output=True, timeout=300)
    subprocess.run([binary, "baseline", f"{work}/train.csv", "-o", f"{work}/base.csv"],
                   check=True, capture_output=True, timeout=300)
    pods = args.series // 2
    print(f"generating {args.scrapes} scrapes of {2 * pods} series ...", flush=True)
    work_items = list(bodies(pods, args.scrapes, args.points_per_request // 2, 1700006400))
    sent_points = sum(n for _, n in work_items)
    sent_bytes = sum(len(b) for b, _ in work_items)

    server = subprocess.Popen([binary, "serve", "--baseline", f"{work}/base.csv", "--listen",
                               "127.0.0.1:0", "-o", f"{work}/findings.jsonl"],
                              stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([server.stderr], [], [], 20)
        line = server.stderr.readline() if ready else b""
        port = int(re.search(rb":(\d+)\s*$", line).group(1))
        latencies, errors, lock = [], [], threading.Lock()
        per_scrape = -(-pods // (args.points_per_request // 2))

        barrier = threading.Barrier(args.clients)

        def client(me):
            conn = NoDelayConnection("127.0.0.1", port, timeout=60)
            mine = []
            # A client owns some of the pods, as a collector's exporter owns its own series: a
            # series' points arrive in order (another order would make them late, I3).
            # The clients move from one scrape to the next together, as collectors scraping every
            # 10 s do; one far ahead would make the others' points late (S1.3).
            for i in range(len(work_items)):
                if i % per_scrape == 0 and i:
                    barrier.wait()
                if (i % per_scrape) % args.clients != me:
                    continue
                started = time.perf_counter()
                conn.request("POST", "/v1/metrics", work_items[i][0],
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                mine.append(time.perf_counter() - started)
                if r.status != 200:
                    with lock:
                        errors.append(r.status)
            with lock:
                latencies.extend(mine)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        accepted = metric(text, "k8snetio_points_accepted_total")
        rejected = sum(float(v) for v in
                       re.findall(r"^k8snetio_points_rejected_total\{[^}]*\} (\S+)$", text, re.M))
        for line in re.findall(r"^k8snetio_points_rejected_total.*$", text, re.M):
            print(line)
        with open(f"/proc/{server.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{server.pid}/status") as f:
            peak = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) // 1024
        latencies.sort()
        pct = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        print(f"{sent_points:,} points in {len(work_items):,} requests ({sent_bytes / 1e6:.1f} MB) "
              f"from {args.clients} clients in {elapsed:.2f} s: "
              f"{sent_points / elapsed:,.0f} points/s, {sent_bytes / elapsed / 1e6:.1f} MB/s")
        print(f"request latency ms: p50 {pct(0.5):.2f}, p90 {pct(0.9):.2f}, p99 {pct(0.99):.2f}, "
              f"max {1000 * latencies[-1]:.2f}; non-200 replies: {len(errors)}")
        print(f"accounted: accepted {accepted:,.0f} + rejected {rejected:,.0f} = "
              f"{accepted + rejected:,.0f} of {sent_points:,} sent; peak RSS {peak} MiB "
              f"for {2 * pods:,} live series")
        print(f"service CPU {cpu:.2f} s: {sent_points / cpu:,.0f} points per CPU second "
              f"(the rest of the machine ran this client)")
        if args.check and (accepted + rejected != sent_points or errors or accepted == 0):
            print(f"FAILED: {accepted + rejected:,.0f} of {sent_points:,} points accounted for, "
                  f"{len(errors)} non-200 replies")
            raise SystemExit(1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
