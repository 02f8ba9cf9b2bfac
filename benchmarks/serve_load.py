#!/usr/bin/env python3
"""Load generator for `k8s-netio serve` (service.md L7, L9, L11): OTLP over loopback, as
OTLP/HTTP JSON, OTLP/HTTP protobuf or OTLP/gRPC, in plain text or TLS.

Starts the service on 127.0.0.1:0 (trained on a simulated day), then pushes scrapes of
--series cumulative series (two directions per pod) in requests of about --points-per-request
points from --clients keep-alive connections (gRPC: one channel each), and reports points per
second, request latency percentiles, the service's accounting (accepted + rejected = sent) and
its peak RSS.

    benchmarks/serve_load.py --k8s-netio build/examples/k8s-netio/k8s-netio \
        [--encoding json|protobuf] [--grpc] [--tls]

Protobuf and gRPC need Debian's python3-protobuf and python3-grpcio (run with /usr/bin/python3):
the requests are encoded by Google's encoder from tests/proto/otlp_metrics_test.proto.
"""
import argparse
import http.client
import importlib
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

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


class NoDelayTlsConnection(http.client.HTTPSConnection):
    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def to_protobuf(work, items):
    """The JSON requests encoded by Google's protobuf encoder (protoc-compiled test copy)."""
    proto_dir = os.path.join(HERE, "..", "tests", "proto")
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={work}",
                    os.path.join(proto_dir, "otlp_metrics_test.proto")], check=True)
    sys.path.insert(0, work)
    pb = importlib.import_module("otlp_metrics_test_pb2")
    from google.protobuf import json_format
    out = []
    for body, n in items:
        request = pb.ExportMetricsServiceRequest()
        json_format.Parse(body, request)
        out.append((request.SerializeToString(), n))
    return out


def certificates(work):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True, timeout=60)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=bench-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    with open(os.path.join(work, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


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
    ap.add_argument("--encoding", choices=("json", "protobuf"), default="json",
                    help="OTLP/HTTP body encoding (gRPC is always protobuf)")
    ap.add_argument("--grpc", action="store_true", help="push over OTLP/gRPC (L9)")
    ap.add_argument("--tls", action="store_true", help="HTTPS / gRPC over TLS (L11)")
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
    protobuf = args.grpc or args.encoding == "protobuf"
    if protobuf:
        # Google's encoder takes about 0.2 s a request here: the encoded load is kept for the
        # next run with the same shape.
        cache = os.path.join(tempfile.gettempdir(), f"serve-load-pb-{pods}-{args.scrapes}-"
                                                    f"{args.points_per_request}.bin")
        if os.path.exists(cache):
            with open(cache, "rb") as f:
                data = f.read()
            encoded, at = [], 0
            for _, n in work_items:
                size = int.from_bytes(data[at:at + 4], "big")
                encoded.append((data[at + 4:at + 4 + size], n))
                at += 4 + size
            work_items = encoded
        else:
            work_items = to_protobuf(work, work_items)
            with open(cache + ".tmp", "wb") as f:
                for body, _ in work_items:
                    f.write(len(body).to_bytes(4, "big") + body)
            os.replace(cache + ".tmp", cache)
    sent_points = sum(n for _, n in work_items)
    sent_bytes = sum(len(b) for b, _ in work_items)
    content_type = "application/x-protobuf" if protobuf else "application/json"
    extra = []
    context = None
    if args.tls:
        certificates(work)
        extra = ["--tls-cert", f"{work}/server.pem", "--tls-key", f"{work}/server.key"]
        context = ssl.create_default_context(cafile=f"{work}/ca.pem")
    if args.grpc:
        extra += ["--grpc-listen", "127.0.0.1:0"]

    server = subprocess.Popen([binary, "serve", "--baseline", f"{work}/base.csv", "--listen",
                               "127.0.0.1:0", "-o", f"{work}/findings.jsonl",
                               "--max-in-flight", str(max(16, 2 * args.clients)), *extra],
                              stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([server.stderr], [], [], 20)
        line = server.stderr.readline() if ready else b""
        port = int(re.search(rb"listening on [^:]+:(\d+)", line).group(1))
        grpc_port = None
        if args.grpc:
            # The next line (the first readline may already hold it in its buffer: no select).
            line = server.stderr.readline()
            grpc_port = int(re.search(rb"grpc listening on [^:]+:(\d+)", line).group(1))
            import grpc
            credentials = None
            if args.tls:
                with open(f"{work}/ca.pem", "rb") as f:
                    credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        latencies, errors, lock = [], [], threading.Lock()
        per_scrape = -(-pods // (args.points_per_request // 2))

        barrier = threading.Barrier(args.clients)

        def http_sender():
            if context:
                conn = NoDelayTlsConnection("127.0.0.1", port, timeout=60, context=context)
            else:
                conn = NoDelayConnection("127.0.0.1", port, timeout=60)

            def send(body):
                conn.request("POST", "/v1/metrics", body, {"Content-Type": content_type})
                r = conn.getresponse()
                r.read()
                return r.status
            return send, conn.close

        def grpc_sender():
            target = f"127.0.0.1:{grpc_port}"
            channel = (grpc.secure_channel(target, credentials) if credentials
                       else grpc.insecure_channel(target))
            export = channel.unary_unary(EXPORT)

            def send(body):
                try:
                    export(body, timeout=60)
                    return 200
                except grpc.RpcError as e:
                    return str(e.code())
            return send, channel.close

        def client(me):
            send, close = grpc_sender() if args.grpc else http_sender()
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
                status = send(work_items[i][0])
                mine.append(time.perf_counter() - started)
                if status != 200:
                    with lock:
                        errors.append(status)
            close()
            with lock:
                latencies.extend(mine)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started

        if context:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
        else:
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
        mode = ("gRPC" if args.grpc else f"HTTP/{'protobuf' if protobuf else 'JSON'}") + (
            " over TLS" if args.tls else "")
        print(f"{mode}: {sent_points:,} points in {len(work_items):,} requests "
              f"({sent_bytes / 1e6:.1f} MB) "
              f"from {args.clients} clients in {elapsed:.2f} s: "
              f"{sent_points / elapsed:,.0f} points/s, {sent_bytes / elapsed / 1e6:.1f} MB/s")
        print(f"request latency ms: p50 {pct(0.5):.2f}, p90 {pct(0.9):.2f}, p99 {pct(0.99):.2f}, "
              f"max {1000 * latencies[-1]:.2f}; non-200 replies: {len(errors)}"
              + (f" ({', '.join(sorted(set(map(str, errors))))})" if errors else ""))
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
