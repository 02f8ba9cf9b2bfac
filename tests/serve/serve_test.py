#!/usr/bin/env python3
"""End-to-end tests of `k8s-netio serve` (service.md L1-L8), on loopback only.

Each case starts the service on 127.0.0.1:0, reads the port from its first standard error line,
pushes a simulated hour, and compares the findings with `k8s-netio detect --window 1h` over the
same data. Every wait is bounded; the service is always killed at the end.

    serve_test.py --k8s-netio BIN --work DIR CASE
"""
import argparse
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN = None
WORK = None
SERVERS = []
START_TIMEOUT = 20  # seconds


def run(*args, **kw):
    return subprocess.run([BIN, *args], check=True, capture_output=True, timeout=120, **kw)


class Server:
    def __init__(self, *args, expect_exit=False):
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        SERVERS.append(self)
        self.stderr = b""
        self.port = None
        if expect_exit:
            return
        line = self._read_line(START_TIMEOUT)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.kill()
            raise AssertionError(f"no 'listening on' first line: {line!r}")
        self.port = int(m.group(1))
        self.wait_healthy()

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        out = b""
        fd = self.proc.stderr.fileno()
        while not out.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            out += chunk
        return out

    def wait_healthy(self):
        for _ in range(200):  # bounded: 200 x 50 ms
            try:
                status, _, _ = self.request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("the service never answered /healthz")

    def request(self, method, path, body=None, headers=None, gzip_body=False):
        headers = dict(headers or {})
        if body is not None and gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                     headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# ---- data ------------------------------------------------------------------------------------

def prepare():
    """The 24-hour training day, its baseline, the incident hour in OTLP and HEC."""
    paths = {k: os.path.join(WORK, k) for k in ("train.csv", "base.csv", "hour.otlp", "hour.hec")}
    if not os.path.exists(paths["base.csv"]):
        run("simulate", "--pods", "8", "--hours", "24", "--seed", "7", "--start", "1699920000",
            "-o", paths["train.csv"])
        run("baseline", paths["train.csv"], "-o", paths["base.csv"])
    for fmt in ("otlp", "hec"):
        if not os.path.exists(paths[f"hour.{fmt}"]):
            run("simulate", "--pods", "8", "--hours", "1", "--seed", "8", "--start", "1700006400",
                "--incident", "exfil", "--incident", "blip", "--format", fmt, "-o",
                paths[f"hour.{fmt}"])
    return paths


def detect(paths, fmt):
    out = os.path.join(WORK, f"detect.{fmt}.jsonl")
    run("detect", "--baseline", paths["base.csv"], "--window", "1h", paths[f"hour.{fmt}"],
        "-o", out)
    return detect_lines(out)


LIVE_FIELDS = re.compile(rb',"status":"(final|provisional|partial)","finding_id":"[0-9a-f]{16}"')


def strip_live(line):
    """L12: a finding written live carries its status and finding_id; batch output has neither.
    The comparison with `detect` drops them (every live line must have them)."""
    check(LIVE_FIELDS.search(line), f"a live finding without status and finding_id: {line!r}")
    return LIVE_FIELDS.sub(b"", line)


def sorted_lines(path, raw=False):
    with open(path, "rb") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    return sorted(lines if raw else map(strip_live, lines))


def detect_lines(path):
    with open(path, "rb") as f:
        return sorted(line for line in f.read().splitlines() if line.strip())


def otlp_requests(path, points_per_request=1000):
    """Lines of `simulate --format otlp` merged into requests of about 1,000 points."""
    requests, batch, points = [], [], 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            doc = json.loads(line)
            for rm in doc["resourceMetrics"]:
                batch.append(rm)
                for sm in rm.get("scopeMetrics", []):
                    for m in sm.get("metrics", []):
                        for kind in ("sum", "gauge"):
                            points += len(m.get(kind, {}).get("dataPoints", []))
            if points >= points_per_request:
                requests.append(json.dumps({"resourceMetrics": batch}, indent=1).encode())
                batch, points = [], 0
    if batch:
        requests.append(json.dumps({"resourceMetrics": batch}, indent=1).encode())
    return requests


def hec_requests(path, events_per_request=1000):
    with open(path, "rb") as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return [b"\n".join(lines[i:i + events_per_request]) + b"\n"
            for i in range(0, len(lines), events_per_request)]


def push_otlp(server, requests):
    for i, body in enumerate(requests):
        status, reply, _ = server.request("POST", "/v1/metrics", body,
                                          {"Content-Type": "application/json"},
                                          gzip_body=i % 2 == 1)
        check(status == 200, f"OTLP request {i}: {status} {reply!r}")
        check(json.loads(reply) == {}, f"OTLP request {i}: {reply!r}")


HEC_TOKEN = "00000000-0000-0000-0000-000000000001"


def push_hec(server, requests):
    for i, body in enumerate(requests):
        status, reply, _ = server.request("POST", "/services/collector" if i % 3 else
                                          "/services/collector/event", body,
                                          {"Authorization": f"Splunk {HEC_TOKEN}"},
                                          gzip_body=i % 2 == 1)
        check(status == 200, f"HEC request {i}: {status} {reply!r}")
        check(json.loads(reply) == {"text": "Success", "code": 0}, f"HEC request {i}: {reply!r}")


# A point one window and the lateness later, for a pod no baseline knows: time moves on, so the
# watermark closes the hour live (S2.1) rather than at shutdown.
TICK = (b'{"event":"metric","time":1700010100,"fields":{"metric_name:k8s.pod.network.io":1,'
        b'"k8s.cluster.name":"tick","k8s.node.name":"tick","k8s.pod.name":"tick-0",'
        b'"direction":"transmit"}}\n')


# ---- cases -----------------------------------------------------------------------------------

def case_otlp_same_findings():
    """L2: a simulated hour over OTLP/HTTP JSON (some gzip) = detect --window 1h."""
    paths = prepare()
    expected = detect(paths, "otlp")
    check(expected, "detect found nothing: the fixture lost its incident")
    out = os.path.join(WORK, "serve.otlp.jsonl")
    if os.path.exists(out):
        os.remove(out)
    server = Server("--baseline", paths["base.csv"], "-o", out)
    push_otlp(server, otlp_requests(paths["hour.otlp"]))
    status, metrics, _ = server.request("GET", "/metrics")
    check(b"k8snetio_points_accepted_total 5776" in metrics, metrics.decode()[:2000])
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    got = sorted_lines(out)
    check(got == expected, f"serve found {got!r}\ndetect found {expected!r}")


def case_hec_same_findings():
    """L3: the same hour over HEC with a token (some gzip), findings to standard output."""
    paths = prepare()
    expected = detect(paths, "hec")
    server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN)
    push_hec(server, hec_requests(paths["hour.hec"]))
    code, out, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    lines = [l for l in out.splitlines() if l.strip()]
    # L6: without --state, the hour still open at SIGTERM is written as partial, never final.
    check(lines and all(b'"status":"partial"' in l for l in lines), f"not partial: {lines!r}")
    got = sorted(map(strip_live, lines))
    check(got == expected, f"serve found {got!r}\ndetect found {expected!r}")


def case_restart_same_findings():
    """L6: SIGTERM and restart with the same --state at several cut points: same findings, each
    written once, and the hour closed live by a later point."""
    paths = prepare()
    expected = detect(paths, "hec")
    requests = hec_requests(paths["hour.hec"])
    for cuts in ([2], [1, 4], [3, 5]):
        state_dir = os.path.join(WORK, f"state-{'-'.join(map(str, cuts))}")
        shutil.rmtree(state_dir, ignore_errors=True)
        os.makedirs(state_dir)
        state = os.path.join(state_dir, "serve.state")  # L1: a directory, created by serve
        out = os.path.join(state_dir, "findings.jsonl")
        args = ("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN, "--state", state,
                "-o", out)
        bounds = [0, *cuts, len(requests)]
        for part in range(len(bounds) - 1):
            server = Server(*args)
            push_hec(server, requests[bounds[part]:bounds[part + 1]])
            if part == len(bounds) - 2:
                push_hec(server, [TICK])
            code, _, err = server.stop(signal.SIGINT if part % 2 else signal.SIGTERM)
            check(code == 0, f"cuts {cuts}, part {part}: exit {code}: {err!r}")
        got = sorted_lines(out)
        check(got == expected, f"cuts {cuts}: serve found {got!r}\ndetect found {expected!r}")
        # Once more with nothing new: nothing is written twice.
        server = Server(*args)
        code, _, err = server.stop()
        check(code == 0 and sorted_lines(out) == expected, f"cuts {cuts}: a restart re-emitted")


def case_early_alerts():
    """S3: with --early-alerts, a finding is written while its window is still open (the
    provisional one, once the pod has passed the threshold), and again when the window closes
    (the final one); the final findings equal detect's."""
    paths = prepare()
    expected = detect(paths, "hec")
    out = os.path.join(WORK, "early.jsonl")
    if os.path.exists(out):
        os.remove(out)
    server = Server("--baseline", paths["base.csv"], "--early-alerts", "-o", out)
    push_hec(server, hec_requests(paths["hour.hec"]))
    early = sorted_lines(out, raw=True)  # the hour is still open: only provisional ones so far
    check(len(early) == len(expected), f"before the window closed: {early!r}")
    check(all(json.loads(l)["status"] == "provisional" for l in early), f"L12: {early!r}")
    _, metrics, _ = server.request("GET", "/metrics")
    check(f'k8snetio_findings_emitted_total{{status="provisional"}} {len(expected)}'.encode()
          in metrics, metrics.decode())
    push_hec(server, [TICK])
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    final = sorted_lines(out, raw=True)
    check(len(final) == 2 * len(expected), f"after the window closed: {final!r}")
    strip = lambda line: json.dumps({k: v for k, v in json.loads(line).items()
                                     if k not in ("status", "finding_id")}, sort_keys=True)
    closing = [line for line in final if line not in early]
    check(all(json.loads(l)["status"] == "final" for l in closing), f"L12: {closing!r}")
    # L12, O4: the provisional and the final finding of one pod and window share one id.
    check(sorted(json.loads(l)["finding_id"] for l in closing) ==
          sorted(json.loads(l)["finding_id"] for l in early), "finding ids differ")
    check(sorted(map(strip, expected)) == sorted(map(strip, closing)),
          f"final findings {closing!r} differ from detect's {expected!r}")


def case_state_refused():
    """L6: a state written for another rule is refused with a clear error and exit 1."""
    paths = prepare()
    state = os.path.join(WORK, "refused.state")
    shutil.rmtree(state, ignore_errors=True)
    server = Server("--baseline", paths["base.csv"], "--state", state)
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    ratio_base = os.path.join(WORK, "base.ratio.csv")
    run("baseline", "--rule", "ratio", paths["train.csv"], "-o", ratio_base)
    server = Server("--baseline", ratio_base, "--rule", "ratio", "--state", state,
                    expect_exit=True)
    _, err = server.proc.communicate(timeout=60)
    check(server.proc.returncode == 1, f"exit {server.proc.returncode}: {err!r}")
    check(b"was written for rule io" in err, err.decode())
    check(b"listening on" not in err, f"L1: 'listening on' before the state was accepted: {err!r}")


def case_error_paths():
    """L2, L3, L5: every error path answers with the right status and body, and the service
    still serves afterwards."""
    paths = prepare()
    server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN, "--max-body",
                    "100000", "--read-timeout", "1s", "--open-endpoint", "otlp")
    json_type = {"Content-Type": "application/json"}
    cases = [
        ("malformed OTLP JSON", "POST", "/v1/metrics", b'{"resourceMetrics": [', json_type, 400,
         lambda r: json.loads(r)["code"] == 3 and "bad syntax" in json.loads(r)["message"]),
        # L2 I3.5: a protobuf body cut short gets 400 (a google.rpc.Status in protobuf) naming
        # the byte offset; whole requests: fleet_test.py's otlp_protobuf_same_findings.
        ("malformed protobuf", "POST", "/v1/metrics", b"\x0a\x05\x0a",
         {"Content-Type": "application/x-protobuf"}, 400, lambda r: b"byte" in r),
        ("oversize", "POST", "/v1/metrics", b" " * 200000, json_type, 413, lambda r: True),
        ("oversize after gzip", "GZIP", "/v1/metrics", b" " * 400000, json_type, 413,
         lambda r: True),
        ("rejected points", "POST", "/v1/metrics",
         json.dumps({"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [
             {"metrics": [{"name": "k8s.pod.network.io", "gauge": {"dataPoints": [
                 {"timeUnixNano": "1700006400000000000", "asDouble": 1}]}}]}]}]}).encode(),
         json_type, 200,
         lambda r: json.loads(r)["partialSuccess"]["rejectedDataPoints"] in ("1", 1)),
        ("missing token", "POST", "/services/collector", TICK, {}, 401,
         lambda r: json.loads(r) == {"text": "Token is required", "code": 2}),
        ("wrong token", "POST", "/services/collector", TICK, {"Authorization": "Splunk nope"},
         403, lambda r: json.loads(r) == {"text": "Invalid token", "code": 4}),
        ("bad HEC event", "POST", "/services/collector/event", TICK + b'{"event": \n',
         {"Authorization": f"Splunk {HEC_TOKEN}"}, 400,
         lambda r: json.loads(r)["code"] == 6 and json.loads(r)["invalid-event-number"] == 1),
        ("unknown path", "GET", "/nope", None, {}, 404, lambda r: b"no such path" in r),
        ("wrong method", "GET", "/v1/metrics", None, {}, 405, lambda r: b"not allowed" in r),
    ]
    for name, method, path, body, headers, status, body_ok in cases:
        gz = method == "GZIP"
        got, reply, _ = server.request("POST" if gz else method, path, body, headers, gzip_body=gz)
        check(got == status, f"{name}: status {got}, expected {status}: {reply!r}")
        check(body_ok(reply), f"{name}: body {reply!r}")
        ok, _, _ = server.request("GET", "/healthz")
        check(ok == 200, f"after {name}: /healthz {ok}")
    # A client that stalls mid-request is cut off after the read timeout (1 s here).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        data = s.recv(4096)
        check(time.monotonic() - started < 8, "a stalled client was not cut off")
        check(not data.startswith(b"HTTP/1.1 200"), f"a stalled request succeeded: {data!r}")
    status, metrics, _ = server.request("GET", "/metrics")
    text = metrics.decode()
    for name in ("k8snetio_points_accepted_total", 'k8snetio_points_rejected_total{reason=',
                 'k8snetio_requests_total{path="/v1/metrics",status="415"}',
                 "k8snetio_request_duration_seconds_bucket", "k8snetio_findings_emitted_total",
                 "k8snetio_open_rows", "k8snetio_late_points_total"):
        check(name in text, f"/metrics lacks {name}:\n{text}")
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")


def case_busy_retry_after():
    """L5: a burst beyond --max-in-flight gets 503 with Retry-After (HEC's code 9 on HEC), not a
    growing queue; senders that retry as OTLP and HEC senders do get every point in, and the
    findings equal detect's."""
    import threading
    paths = prepare()
    expected = detect(paths, "hec")
    out = os.path.join(WORK, "serve.busy.jsonl")
    if os.path.exists(out):
        os.remove(out)
    # A lateness of 10 minutes: requests sent together arrive in any order within a round.
    server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN,
                    "--max-in-flight", "1", "--lateness", "10m", "-o", out)
    requests = hec_requests(paths["hour.hec"], events_per_request=20)
    busy, results, lock = [], [], threading.Lock()
    senders = 6
    rounds = threading.Barrier(senders, timeout=120)

    def sender(index):
        # Round k: the six senders post requests 6k … 6k+5 at once, then wait for each other.
        for start in range(0, len(requests), senders):
            if start + index < len(requests):
                body = requests[start + index]
                for _ in range(600):  # bounded retries
                    status, reply, headers = server.request(
                        "POST", "/services/collector", body,
                        {"Authorization": f"Splunk {HEC_TOKEN}"})
                    if status != 503:
                        break
                    with lock:
                        busy.append((reply, headers.get("Retry-After")))
                    time.sleep(0.01)  # sooner than Retry-After: the test need not wait
                with lock:
                    results.append((status, reply))
            rounds.wait()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    check(len(results) == len(requests), f"{len(results)} of {len(requests)} requests answered")
    check(all(s == 200 for s, _ in results), f"not all accepted: {results[:3]!r}")
    check(busy, "six senders at once against --max-in-flight 1 never got a 503")
    for reply, retry_after in busy:
        check(json.loads(reply) == {"text": "Server is busy", "code": 9}, f"503 body {reply!r}")
        check(retry_after == "1", f"503 without Retry-After: {retry_after!r}")
    status, metrics, _ = server.request("GET", "/metrics")
    check(re.search(rb'status="503"', metrics), "the 503s are not in /metrics")
    push_hec(server, [TICK.replace(b"1700010100", b"1700010700")])  # past the hour + lateness
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    got = sorted_lines(out)
    check(got == expected, f"serve found {got!r}\ndetect found {expected!r}")


def case_otlp_restart_keeps_counters():
    """L6 with OTLP: the cumulative series' last values live across a clean restart, so the
    first point of a series yields no delta once per run, not once per restart, and the
    findings equal detect's."""
    paths = prepare()
    expected = detect(paths, "otlp")
    requests = otlp_requests(paths["hour.otlp"])

    def first_points(server):
        _, metrics, _ = server.request("GET", "/metrics")
        m = re.search(rb'k8snetio_points_accepted_without_delta_total\{reason="first[^"]*"\} (\d+)',
                      metrics)
        return int(m.group(1)) if m else 0

    whole = Server("--baseline", paths["base.csv"], "-o", os.path.join(WORK, "whole.jsonl"))
    push_otlp(whole, requests)
    once = first_points(whole)
    check(once > 0, "the hour has no cumulative series: the case tests nothing")
    whole.stop()

    state_dir = os.path.join(WORK, "otlp-state")
    shutil.rmtree(state_dir, ignore_errors=True)
    os.makedirs(state_dir)
    out = os.path.join(state_dir, "findings.jsonl")
    args = ("--baseline", paths["base.csv"], "--state", os.path.join(state_dir, "serve.state"),
            "-o", out)
    bounds = [0, len(requests) // 3, 2 * len(requests) // 3, len(requests)]
    total = 0
    for part in range(3):
        server = Server(*args)
        push_otlp(server, requests[bounds[part]:bounds[part + 1]])
        if part == 2:
            push_hec(server, [TICK])
        total += first_points(server)
        code, _, err = server.stop()
        check(code == 0, f"part {part}: exit {code}: {err!r}")
    check(total == once, f"first points over three runs: {total}, in one run: {once}")
    got = sorted_lines(out)
    check(got == expected, f"serve found {got!r}\ndetect found {expected!r}")

    # A damaged snapshot (it holds the OTLP series too) is refused with a clear error.
    snapshot = os.path.join(state_dir, "serve.state", "snapshot")
    data = bytearray(open(snapshot, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(snapshot, "wb").write(bytes(data))
    server = Server(*args, expect_exit=True)
    code, _, err = server.proc.wait(timeout=30), None, server.proc.stderr.read()
    check(code == 1 and b"cannot be restored" in err and b"listening on" not in err,
          f"exit {code}: {err!r}")


def scrape(server):
    """GET /metrics as {(name, labels): value}, checking every sample's family has # TYPE."""
    status, body, headers = server.request("GET", "/metrics")
    check(status == 200 and headers.get("Content-Type", "").startswith("text/plain"),
          f"/metrics: {status} {headers}")
    samples, typed = {}, set()
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        check(m, f"not Prometheus text: {line!r}")
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in typed or family in typed, f"{name} has no # TYPE line")
        samples[(name, labels)] = value
    return samples


def case_operations():
    """L4: /healthz answers 200 when ready; /metrics is Prometheus text with points accepted,
    rejected by reason, late points, findings by status, open rows, requests by path and status,
    the request duration histogram and the last state write, each consistent with what was
    sent."""
    paths = prepare()
    state_dir = os.path.join(WORK, "ops-state")
    shutil.rmtree(state_dir, ignore_errors=True)
    os.makedirs(state_dir)
    out = os.path.join(WORK, "ops.jsonl")
    server = Server("--baseline", paths["base.csv"], "--state",
                    os.path.join(state_dir, "serve.state"), "-o", out, "--open-endpoint", "hec")
    status, body, _ = server.request("GET", "/healthz")
    check(status == 200 and body == b"ok\n", f"/healthz: {status} {body!r}")
    requests = otlp_requests(paths["hour.otlp"])
    push_otlp(server, requests)
    # One point without a pod name: rejected, named by reason, reported as partial success.
    bad = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "k8s.cluster.name", "value": {"stringValue": "ops"}},
        {"key": "k8s.node.name", "value": {"stringValue": "n"}}]},
        "scopeMetrics": [{"metrics": [{"name": "k8s.pod.network.io", "gauge": {"dataPoints": [{
            "attributes": [{"key": "direction", "value": {"stringValue": "receive"}}],
            "timeUnixNano": "1700006500000000000", "asDouble": 5}]}}]}]}]}
    status, reply, _ = server.request("POST", "/v1/metrics", json.dumps(bad).encode(),
                                      {"Content-Type": "application/json"})
    check(status == 200 and json.loads(reply)["partialSuccess"]["rejectedDataPoints"] == "1",
          f"{status} {reply!r}")
    status, _, _ = server.request("POST", "/services/collector", b"{not json")
    check(status == 400, f"bad HEC body: {status}")
    # The server counts a request just after its reply is sent: the last replies
    # may be a moment ahead of the counters. Bounded: 40 scrapes, 50 ms apart.
    for _ in range(40):
        m = scrape(server)
        if m.get(("k8snetio_requests_total", '{path="/v1/metrics",status="200"}')) == \
                len(requests) + 1 and \
                m.get(("k8snetio_requests_total", '{path="/services/collector",status="400"}')) == 1:
            break
        time.sleep(0.05)
    check(m[("k8snetio_points_accepted_total", "")] == 5776, f"accepted {m}")
    rejected = {k[1]: v for k, v in m.items() if k[0] == "k8snetio_points_rejected_total"}
    check(rejected == {'{reason="missing_dimension"}': 1, '{reason="bad_syntax"}': 1},
          f"rejected by reason {rejected}")
    check(("k8snetio_late_points_total", "") in m, "no late points counter")
    check(("k8snetio_findings_emitted_total", '{status="final"}') in m and
          ("k8snetio_findings_emitted_total", '{status="provisional"}') in m, "no findings counter")
    check(m[("k8snetio_open_rows", "")] > 0, "no open rows while the hour is open")
    check(m[("k8snetio_requests_total", '{path="/v1/metrics",status="200"}')] ==
          len(requests) + 1, f"OTLP requests counted {m}")
    check(m[("k8snetio_requests_total", '{path="/services/collector",status="400"}')] == 1,
          "the bad HEC request is not counted with its status")
    buckets = [v for (n, l), v in m.items() if n == "k8snetio_request_duration_seconds_bucket"]
    check(buckets == sorted(buckets), f"histogram buckets not cumulative: {buckets}")
    total = sum(v for (n, _), v in m.items() if n == "k8snetio_requests_total")
    check(m[("k8snetio_request_duration_seconds_bucket", '{le="+Inf"}')] == total ==
          m[("k8snetio_request_duration_seconds_count", "")], f"histogram count vs requests {m}")
    check(m[("k8snetio_last_state_write_timestamp_seconds", "")] > 1.6e9, "no state write time")
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    # Logs: one line per event worth attention, control characters escaped.
    check(all(0x20 <= b or b in (0x09, 0x0A) for b in err), f"raw control bytes in {err!r}")


def read_table(path):
    """A baseline CSV as {key: [cells]}, in file order."""
    with open(path) as f:
        rows = [l.rstrip("\n").split(",") for l in f if l.strip()]
    return rows[0], {tuple(r[:3]): r[3:] for r in rows[1:]}


def case_learn():
    """L8: with --state the service learns what it receives, one UTC day at a time, into
    STATE.baseline/ (the files of `baseline --state`): the table of a complete day equals
    `baseline` over that day's points (keys and counts exactly, numbers within 1e-12). With
    --learn, detection takes that table from the windows still open when the day completes;
    findings equal `detect` with the learned table over those windows, across restarts too."""
    paths = prepare()
    day1, day2 = os.path.join(WORK, "day1.hec"), os.path.join(WORK, "day2.hec")
    if not os.path.exists(day2):
        run("simulate", "--pods", "4", "--hours", "24", "--seed", "21", "--start", "1699920000",
            "--format", "hec", "-o", day1)
        run("simulate", "--pods", "4", "--hours", "3", "--seed", "22", "--start", "1700006400",
            "--incident", "exfil", "--format", "hec", "-o", day2)
    # The given baseline knows no key: on it alone, nothing can alert (D5.2).
    empty = os.path.join(WORK, "empty-baseline.csv")
    with open(paths["base.csv"]) as f, open(empty, "w") as out:
        out.write(f.readline())
    tick = TICK.replace(b"1700010100", b"1700017300")
    requests = hec_requests(day1) + hec_requests(day2) + [tick]

    def serve_run(name, learn, cuts=()):
        state_dir = os.path.join(WORK, name)
        shutil.rmtree(state_dir, ignore_errors=True)
        os.makedirs(state_dir)
        state = os.path.join(state_dir, "serve.state")
        out = os.path.join(state_dir, "findings.jsonl")
        args = ["--baseline", empty, "--hec-token", HEC_TOKEN, "--state", state, "-o", out]
        if learn:
            args.append("--learn")
        bounds = [0, *cuts, len(requests)]
        errors = b""
        for part in range(len(bounds) - 1):
            server = Server(*args)
            push_hec(server, requests[bounds[part]:bounds[part + 1]])
            if part == len(bounds) - 2:
                status, metrics, _ = server.request("GET", "/metrics")
                check(status == 200 and b"k8snetio_learned_days 1\n" in metrics,
                      f"{name}: /metrics {metrics.decode()[-1500:]}")
            code, _, err = server.stop()
            check(code == 0, f"{name}, part {part}: exit {code}: {err!r}")
            errors += err
        check(b"learned the day 2023-11-14" in errors, f"{name}: {errors!r}")
        return state, sorted_lines(out)

    state, learned_findings = serve_run("learn", True)
    learned = os.path.join(WORK, "learned.csv")
    run("baseline", "--state", os.path.join(state, "baseline"), "-o", learned)
    batch = os.path.join(WORK, "day1-baseline.csv")
    run("baseline", day1, "--input-format", "hec", "-o", batch)
    header, got = read_table(learned)
    batch_header, want = read_table(batch)
    check(header == batch_header and list(got) == list(want) and got,
          f"learned keys {list(got)[:5]} vs {list(want)[:5]}")
    for key, cells in got.items():
        for a, b in zip(cells, want[key]):
            if a == b:
                continue
            x, y = float(a), float(b)
            check(abs(x - y) <= 1e-12 * max(abs(y), 1e-300), f"{key}: {cells} vs {want[key]}")

    out = os.path.join(WORK, "detect.learned.jsonl")
    run("detect", "--baseline", learned, "--window", "1h", day2, "--input-format", "hec",
        "-o", out)
    switch = 1700006400  # the day completes in the learner at 00:00:40 on day 2
    expected = sorted(l for l in detect_lines(out)
                      if json.loads(l)["window_start"] >= switch)
    check(expected, "detect with the learned table found nothing: the fixture lost its incident")
    check(learned_findings == expected,
          f"serve --learn found {learned_findings!r}\ndetect found {expected!r}")

    # Without --learn it learns the same days and detects with the given table: nothing.
    state, plain = serve_run("no-learn", False)
    check(plain == [], f"serve without --learn found {plain!r}")
    check(open(os.path.join(state, "baseline", "2023-11-14.k8snetio-day"), "rb").read() ==
          open(os.path.join(WORK, "learn", "serve.state", "baseline", "2023-11-14.k8snetio-day"),
               "rb").read(), "the learned day differs with and without --learn")

    # Restarts before, across and after the switch: the same findings, each written once.
    n1 = len(hec_requests(day1))
    for cuts in ([n1 // 2, n1 + 1], [n1 + 2, len(requests) - 2]):
        _, again = serve_run(f"learn-{cuts[0]}", True, cuts)
        check(again == expected, f"cuts {cuts}: serve found {again!r}\nexpected {expected!r}")


def case_hec_endpoints():
    """L3: /services/collector/event/1.0 takes events (Splunk's logging libraries post there);
    GET /services/collector/health and /health/1.0 answer as Splunk does."""
    paths = prepare()
    server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN)
    status, reply, _ = server.request("POST", "/services/collector/event/1.0", TICK,
                                      {"Authorization": f"Splunk {HEC_TOKEN}"})
    check(status == 200 and json.loads(reply) == {"text": "Success", "code": 0},
          f"event/1.0: {status} {reply!r}")
    for path in ("/services/collector/health", "/services/collector/health/1.0"):
        status, reply, _ = server.request("GET", path)
        check(status == 200 and json.loads(reply) == {"text": "HEC is healthy", "code": 17},
              f"{path}: {status} {reply!r}")
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")


def case_state_dir():
    """L1, RT-17, RT-12, RT-20: --state DIR is created, locked against a second process,
    refused when others can write it; -o inside it is a usage error; 'listening on' is printed
    only once the state is accepted."""
    paths = prepare()
    state = os.path.join(WORK, "dir-state")
    shutil.rmtree(state, ignore_errors=True)
    first = Server("--baseline", paths["base.csv"], "--state", state)
    check(os.path.isdir(state) and os.path.exists(os.path.join(state, "snapshot")),
          f"the state directory was not created: {os.listdir(WORK)}")
    second = Server("--baseline", paths["base.csv"], "--state", state, expect_exit=True)
    _, err = second.proc.communicate(timeout=60)
    check(second.proc.returncode == 1 and b"in use by another process" in err and
          b"listening on" not in err, f"a second process: {second.proc.returncode} {err!r}")
    code, _, err = first.stop()
    check(code == 0, f"exit {code}: {err!r}")
    os.chmod(state, 0o777)
    third = Server("--baseline", paths["base.csv"], "--state", state, expect_exit=True)
    _, err = third.proc.communicate(timeout=60)
    check(third.proc.returncode == 1 and b"writable by other users" in err, f"{err!r}")
    os.chmod(state, 0o700)
    inside = Server("--baseline", paths["base.csv"], "--state", state, "-o",
                    os.path.join(state, "findings.jsonl"), expect_exit=True)
    _, err = inside.proc.communicate(timeout=60)
    check(inside.proc.returncode == 2 and b"inside the state directory" in err, f"{err!r}")
    same = Server("--baseline", paths["base.csv"], "-o", paths["base.csv"], expect_exit=True)
    _, err = same.proc.communicate(timeout=60)
    check(same.proc.returncode == 2, f"-o = the baseline: {same.proc.returncode} {err!r}")


def raw_request(port, data, timeout=10, half_close=True):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def case_http_hardening():
    """RT-11, RT-18, RT-28, RT-26: any token closes every data endpoint (the token checked
    before the body is read), an empty token is a usage error, tokens can come from a file and
    are reloaded on SIGHUP (which never stops the service); a body over --max-body is 413 with
    the size message on both endpoints; two Content-Length headers are refused; the content
    type is compared case-insensitively; zstd bodies are read."""
    paths = prepare()
    empty = Server("--baseline", paths["base.csv"], "--otlp-token", "", expect_exit=True)
    _, err = empty.proc.communicate(timeout=60)
    check(empty.proc.returncode == 2 and b"must not be empty" in err, f"{err!r}")

    token_file = os.path.join(WORK, "otlp.tokens")
    with open(token_file, "w") as f:
        f.write("first-token\n")
    server = Server("--baseline", paths["base.csv"], "--otlp-token-file", token_file,
                    "--max-body", "100000")
    json_type = {"Content-Type": "Application/JSON; charset=utf-8"}
    point, second_point = otlp_requests(paths["hour.otlp"], points_per_request=50)[:2]
    # Only an OTLP token: HEC is closed too (no token can open it).
    status, reply, _ = server.request("POST", "/services/collector", TICK)
    check(status == 401 and json.loads(reply)["code"] == 2, f"HEC open: {status} {reply!r}")
    # A small body: the refusal does not read it, so a large one may meet a closed socket.
    status, _, _ = server.request("POST", "/v1/metrics", b'{"resourceMetrics":[]}', json_type)
    check(status == 401, f"OTLP without a token: {status}")
    auth = {"Authorization": "Bearer first-token", **json_type}
    status, reply, _ = server.request("POST", "/v1/metrics", point, auth)
    check(status == 200, f"OTLP with the token, mixed-case type: {status} {reply!r}")
    # 413 with the size message, on both endpoints, from the declared length.
    status, reply, _ = server.request("POST", "/v1/metrics", b" " * 200000, auth)
    check(status == 413 and b"larger than 100000 bytes" in reply, f"OTLP 413: {status} {reply!r}")
    hec_server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN,
                        "--max-body", "100000")
    status, reply, _ = hec_server.request("POST", "/services/collector", b" " * 200000,
                                          {"Authorization": f"Splunk {HEC_TOKEN}"})
    check(status == 413 and b"larger than 100000 bytes" in reply, f"HEC 413: {status} {reply!r}")
    hec_server.stop()
    # Two Content-Length headers: refused.
    reply = raw_request(server.port, b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer first-token\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
    # Refused: a 400 (tests/test_http_server.cpp checks the server's own reply), never handled.
    check(reply == b"" or reply.startswith(b"HTTP/1.1 400"), f"two Content-Length: {reply[:200]!r}")
    # zstd, as the collector's otlphttp exporter may send it.
    compressed = subprocess.run(["zstd", "-q", "-c"], input=second_point, capture_output=True,
                                check=True, timeout=30).stdout
    status, reply, _ = server.request("POST", "/v1/metrics", compressed,
                                      {**auth, "Content-Encoding": "zstd"})
    check(status == 200 and json.loads(reply) == {}, f"zstd: {status} {reply!r}")
    status, reply, _ = server.request("POST", "/v1/metrics", compressed[:len(compressed) // 2],
                                      {**auth, "Content-Encoding": "zstd"})
    check(status == 400, f"a cut zstd body: {status} {reply!r}")
    # SIGHUP: the token file is read again; the service goes on.
    with open(token_file, "w") as f:
        f.write("second-token\n")
    server.proc.send_signal(signal.SIGHUP)
    for _ in range(100):  # bounded: 100 x 50 ms
        status, _, _ = server.request("POST", "/v1/metrics", point,
                                      {"Authorization": "Bearer second-token", **json_type})
        if status == 200:
            break
        time.sleep(0.05)
    check(status == 200 and server.proc.poll() is None, f"after SIGHUP: {status}")
    code, _, err = server.stop()
    check(code == 0 and b"tokens reloaded" in err, f"exit {code}: {err!r}")


def case_future_time():
    """S1.4, RT-8: a point a year ahead of the receiver's clock is rejected as future_time and
    does not move the watermark: the hour's findings are still those of detect."""
    paths = prepare()
    expected = detect(paths, "hec")
    out = os.path.join(WORK, "future.jsonl")
    if os.path.exists(out):
        os.remove(out)
    server = Server("--baseline", paths["base.csv"], "--hec-token", HEC_TOKEN, "-o", out)
    future = TICK.replace(b"1700010100", str(int(time.time()) + 365 * 86400).encode())
    requests = hec_requests(paths["hour.hec"])
    push_hec(server, requests[:2] + [future] + requests[2:] + [TICK])
    m = scrape(server)
    check(m.get(("k8snetio_points_rejected_total", '{reason="future_time"}')) == 1, f"{m}")
    check(m[("k8snetio_watermark_seconds", "")] < 1700010100, f"watermark moved: {m}")
    code, _, err = server.stop()
    check(code == 0, f"exit {code}: {err!r}")
    check(sorted_lines(out) == expected, "the future point changed the findings")


def main():
    global BIN, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--k8s-netio", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("case")
    args = parser.parse_args()
    BIN = args.k8s_netio
    WORK = args.work
    os.makedirs(WORK, exist_ok=True)
    try:
        globals()[f"case_{args.case}"]()
    finally:
        for s in SERVERS:
            s.kill()
    print(f"serve {args.case}: ok")


if __name__ == "__main__":
    main()
