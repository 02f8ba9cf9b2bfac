#!/usr/bin/env python3
"""Fleet figures of `k8s-netio serve` (service.md L10, L11): how many idle keep-alive
connections it holds and what each costs, how fast a new request is answered meanwhile, and
what a burst beyond --max-in-flight gets. Loopback only; every loop is bounded.

    benchmarks/fleet_load.py --k8s-netio build/release/examples/k8s-netio/k8s-netio \
        [--connections 10000] [--tls]

Prints one line per figure. The service is trained on a small simulated day first.
"""
import argparse
import http.client
import os
import re
import resource
import select
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time

from serve_load import certificates  # the same throwaway CA and server certificate


def run(binary, *args):
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=300)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_line(proc, timeout=30):
    deadline = time.monotonic() + timeout
    out = b""
    fd = proc.stderr.fileno()
    while not out.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            break
        out += chunk
    return out


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-netio", required=True)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 1000
    if hard < need:
        raise SystemExit(f"the open-file limit {hard} is below {need}: raise it (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    with tempfile.TemporaryDirectory() as work:
        train = os.path.join(work, "train.csv")
        base = os.path.join(work, "base.csv")
        run(args.k8s_netio, "simulate", "--pods", "8", "--hours", "2", "--seed", "7", "-o", train)
        run(args.k8s_netio, "baseline", train, "-o", base)
        extra = []
        context = None
        if args.tls:
            certificates(work)
            extra = ["--tls-cert", os.path.join(work, "server.pem"), "--tls-key",
                     os.path.join(work, "server.key")]
            context = ssl.create_default_context(cafile=os.path.join(work, "ca.pem"))
        proc = subprocess.Popen([args.k8s_netio, "serve", "--baseline", base, "--listen",
                                 "127.0.0.1:0", "--idle-timeout", "600s", *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            line = read_line(proc)
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if not m:
                raise SystemExit(f"no 'listening on' line: {line!r}")
            port = int(m.group(1))

            def probe():
                start = time.monotonic()
                if context:
                    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context,
                                                       timeout=30)
                else:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status != 200:
                    raise SystemExit(f"/healthz answered {status}")
                return time.monotonic() - start

            for _ in range(5):
                probe()
            idle_before = [probe() for _ in range(args.probes)]
            rss_before = rss_kib(proc.pid)
            sockets = []
            start = time.monotonic()
            for i in range(args.connections):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                if context:
                    s = context.wrap_socket(s, server_hostname="127.0.0.1")
                sockets.append(s)
            opened = time.monotonic() - start
            time.sleep(1.0)
            rss_after = rss_kib(proc.pid)
            during = [probe() for _ in range(args.probes)]
            alive = proc.poll() is None
            per_connection = (rss_after - rss_before) * 1024 / max(1, args.connections)
            mode = "HTTPS" if context else "HTTP"
            print(f"{mode}: {args.connections} idle keep-alive connections opened in "
                  f"{opened:.1f} s; service alive: {alive}")
            print(f"{mode}: RSS {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB "
                  f"with them open: {per_connection:.0f} bytes per idle connection")
            for name, values in (("without", idle_before), ("with", during)):
                print(f"{mode}: a new request {name} them open: p50 "
                      f"{1000 * statistics.median(values):.2f} ms, p99 "
                      f"{1000 * percentile(values, 99):.2f} ms, max {1000 * max(values):.2f} ms")
            for s in sockets:
                s.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
