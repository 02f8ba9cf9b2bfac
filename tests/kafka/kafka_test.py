#!/usr/bin/env python3
"""End-to-end tests of `k8s-netio consume` (service.md K1-K7) on librdkafka's mock cluster.

Each case starts the mock cluster (3 brokers; `metrics` with 6 partitions, the state topic,
`findings` for findings) in kafka_helper, produces a simulated hour with an injected
exfiltration keyed by pod, runs consumers, and compares their findings with
`k8s-netio detect --window 1h` over the same points. Every wait is bounded; every process this
script starts is killed at the end.

    kafka_test.py --k8s-netio BIN --helper BIN --work DIR CASE
"""
import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.request

BIN = HELPER = WORK = None
PB = None  # the protoc-compiled test copy of the OTLP messages, made on first use
PROCS = []
GROUP = "k8snetio-test"
TOPIC = "metrics"
STATE_TOPIC = GROUP + ".k8snetio-state"
PARTITIONS = 6
HOUR = 1700006400
SESSION = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(*args, **kw):
    return subprocess.run([BIN, *args], check=True, capture_output=True, timeout=120, **kw)


# ---- the mock cluster and the topics ---------------------------------------------------------

class Cluster:
    def __init__(self):
        self.proc = subprocess.Popen(
            [HELPER, "mock-cluster", "3", f"{TOPIC}:{PARTITIONS}", f"{STATE_TOPIC}:2",
             "findings:3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        PROCS.append(self.proc)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"bootstrap (\S+)", line)
        check(m, f"the mock cluster printed {line!r}")
        self.bootstrap = m.group(1)

    def produce(self, topic, records):
        """records: (partition or -1, key bytes, value bytes or None)."""
        path = os.path.join(WORK, f"records-{time.monotonic_ns()}.bin")
        with open(path, "wb") as f:
            for partition, key, value in records:
                f.write(struct.pack("<iI", partition, len(key)) + key)
                f.write(struct.pack("<I", 0xFFFFFFFF) if value is None else
                        struct.pack("<I", len(value)) + value)
        subprocess.run([HELPER, "produce", self.bootstrap, topic, path], check=True,
                       timeout=120, capture_output=True)

    def read(self, topic):
        out = subprocess.run([HELPER, "read", self.bootstrap, topic], check=True, timeout=60,
                             capture_output=True).stdout.decode()
        records = []
        for line in out.splitlines():
            p, offset, key, value = line.split(" ")
            records.append((int(p), int(offset), bytes.fromhex(key),
                            None if value == "-" else bytes.fromhex(value)))
        return records

    def committed(self):
        out = subprocess.run([HELPER, "committed", self.bootstrap, GROUP, TOPIC], check=True,
                             timeout=60, capture_output=True).stdout.decode()
        return {int(p): (int(c), int(e)) for p, c, e in (l.split() for l in out.splitlines())}

    def wait_committed_to_end(self, timeout=75):
        """K3: offsets are committed once the states covering them are stored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            offsets = self.committed()
            if offsets and all(c == e for c, e in offsets.values()):
                return offsets
            time.sleep(0.5)
        raise AssertionError(f"offsets not committed to the end in {timeout}s: {offsets}")


class Consumer:
    def __init__(self, cluster, *args, name="c"):
        self.err_path = os.path.join(WORK, f"{name}.stderr")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [BIN, "consume", "--brokers", cluster.bootstrap, "--topic", TOPIC, "--group", GROUP,
             "--baseline", os.path.join(WORK, "base.csv"), *SESSION, *args],
            stdout=subprocess.DEVNULL, stderr=self.err)
        PROCS.append(self.proc)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        self.err.close()
        return self.proc.returncode

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")


# ---- data ------------------------------------------------------------------------------------

def prepare(pods=16):
    train, base, hour = (os.path.join(WORK, n) for n in ("train.csv", "base.csv", "hour.otlp"))
    run("simulate", "--pods", str(pods), "--hours", "24", "--seed", "7", "--start",
        str(HOUR - 86400), "-o", train)
    run("baseline", train, "-o", base)
    run("simulate", "--pods", str(pods), "--hours", "1", "--seed", "8", "--start", str(HOUR),
        "--incident", "exfil", "--incident", "blip", "--format", "otlp", "-o", hour)
    expected = detect_lines(hour)
    check(expected, "detect found nothing: the fixture lost its incident")
    messages = []  # (key, value, points), in time order
    with open(hour) as f:
        for line in f:
            if not line.strip():
                continue
            for rm in json.loads(line)["resourceMetrics"]:
                pod = next(a["value"]["stringValue"] for a in rm["resource"]["attributes"]
                           if a["key"] == "k8s.pod.name")
                points = sum(len(m.get(kind, {}).get("dataPoints", []))
                             for sm in rm.get("scopeMetrics", []) for m in sm.get("metrics", [])
                             for kind in ("sum", "gauge"))
                value = json.dumps({"resourceMetrics": [rm]}, separators=(",", ":")).encode()
                messages.append((pod.encode(), value, points))
    return expected, messages


def detect_lines(path):
    out = os.path.join(WORK, "detect.jsonl")
    run("detect", "--baseline", os.path.join(WORK, "base.csv"), "--window", "1h", path, "-o", out)
    return sorted_lines(out)


def sorted_lines(path):
    with open(path, "rb") as f:
        return sorted(line for line in f.read().splitlines() if line.strip())


def tick(partition):
    """A gauge point one window and the lateness after the hour, on every partition, for a pod
    no baseline knows: each partition's watermark (K2) closes the hour live (S2.1)."""
    doc = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "k8s.cluster.name", "value": {"stringValue": "tick"}},
        {"key": "k8s.node.name", "value": {"stringValue": "tick"}},
        {"key": "k8s.pod.name", "value": {"stringValue": f"tick-{partition}"}}]},
        "scopeMetrics": [{"metrics": [{"name": "k8s.pod.network.io", "gauge": {"dataPoints": [{
            "attributes": [{"key": "direction", "value": {"stringValue": "transmit"}}],
            "timeUnixNano": str((HOUR + 3600 + 100) * 10**9), "asDouble": 1}]}}]}]}]}
    return (partition, f"tick-{partition}".encode(), json.dumps(doc).encode())


def ticks():
    return [tick(p) for p in range(PARTITIONS)]


def keyed(messages):
    return [(-1, key, value) for key, value, _ in messages]


def produced_points(messages):
    return sum(points for _, _, points in messages) + PARTITIONS  # one point per tick


def summary_points(stderr):
    m = re.search(r"points ([\d,]+) accepted, ([\d,]+) rejected", stderr)
    check(m, f"no summary with points accepted and rejected:\n{stderr}")
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def final_partition_counts(stderrs):
    """Per partition, the counts of the state covering the latest offset (since the group
    began, carried by the state across failovers)."""
    best = {}
    for text in stderrs:
        for m in re.finditer(r"state of \S+/(\d+) saved \([a-z]+\) at offset (\d+): (\d+) points "
                             r"accepted, (\d+) rejected", text):
            p, offset, a, r = (int(g) for g in m.groups())
            if p not in best or offset >= best[p][0]:
                best[p] = (offset, a, r)
    return best


def hec_groups(path):
    """The HEC events of a file grouped by (pod, time), in file order: one message each."""
    groups = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                event = json.loads(line)
                groups.setdefault((event["fields"]["k8s.pod.name"], event["time"]), []).append(
                    line.rstrip(b"\n"))
    return groups


def hec_records(groups):
    """One record per group, keyed by pod (so one pod's series stay on one partition)."""
    return [(-1, pod.encode(), b"\n".join(lines) + b"\n") for (pod, _), lines in groups.items()]


LIVE_FIELDS = re.compile(rb',"status":"(final|provisional|partial)","finding_id":"[0-9a-f]{16}"')


def check_same_findings(expected, lines, what):
    """K5: the final findings equal detect's, each once. Live findings carry their L12 status and
    finding_id (batch output has neither): every line must, and the comparison drops them."""
    lines = [line if isinstance(line, bytes) else line.encode() for line in lines]
    check(all(LIVE_FIELDS.search(line) and b'"status":"final"' in line for line in lines),
          f"{what}: a finding without status final and finding_id: {lines[:3]}")
    lines = [LIVE_FIELDS.sub(b"", line) for line in lines]
    check(len(lines) == len(set(lines)), f"{what}: duplicate findings: {len(lines)} lines, "
          f"{len(set(lines))} distinct")
    check(sorted(lines) == expected,
          f"{what}: findings differ from detect:\n  got {len(lines)}: {sorted(lines)[:3]}\n"
          f"  expected {len(expected)}: {expected[:3]}")


def file_findings(paths):
    lines = []
    for path in paths:
        lines += sorted_lines(path)
    return lines


# ---- cases -----------------------------------------------------------------------------------

def case_one_consumer_same_findings():
    """K5 (K1, K2, K4): one consumer over 6 partitions = detect; every point accounted for."""
    expected, messages = prepare()
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(messages) + ticks())
    out = os.path.join(WORK, "findings.jsonl")
    c = Consumer(cluster, "--checkpoint-interval", "1s", "-o", out)
    cluster.wait_committed_to_end()
    check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    check_same_findings(expected, file_findings([out]), "one consumer")
    accepted, rejected = summary_points(c.stderr())
    check(accepted + rejected == produced_points(messages),
          f"accepted {accepted} + rejected {rejected} != produced {produced_points(messages)}")
    check("is on partitions" not in c.stderr(), "a pod reported on two partitions")
    # K3: the state topic holds a state for every partition.
    keys = {k for _, _, k, v in cluster.read(STATE_TOPIC) if v and v.startswith(b"k8snetio-state")}
    check(keys == {f"{GROUP}/{TOPIC}/{p}".encode() for p in range(PARTITIONS)},
          f"states stored for {sorted(keys)}")


def case_three_consumers_same_findings():
    """K5: three consumers of one group, findings to the output topic keyed by finding id (K4),
    and to files: the union equals detect, no duplicates."""
    expected, messages = prepare()
    cluster = Cluster()
    consumers = [Consumer(cluster, "--checkpoint-interval", "1s", "--output-topic", "findings",
                          name=f"c{i}") for i in range(3)]
    time.sleep(3)  # let the three join before data flows (a later join is another case)
    cluster.produce(TOPIC, keyed(messages) + ticks())
    cluster.wait_committed_to_end()
    for c in consumers:
        c.proc.send_signal(signal.SIGTERM)
    for c in consumers:
        check(c.stop(timeout=60) == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    records = cluster.read("findings")
    lines = [v.rstrip(b"\n") for _, _, _, v in records]
    check_same_findings(expected, lines, "three consumers")
    for _, _, key, value in records:
        check(json.loads(value)["finding_info"]["uid"].encode() == key if b"finding_info" in value
              else len(key) == 16, f"finding keyed {key!r}")
    total = sum(sum(summary_points(c.stderr())) for c in consumers)
    check(total == produced_points(messages), f"{total} points accounted for, "
          f"{produced_points(messages)} produced")
    held = [c for c in consumers if re.search(r"assigned metrics/", c.stderr())]
    check(len(held) >= 2, "the partitions were not spread over the consumers")


def case_killed_consumer_failover():
    """K3, K5: a consumer SIGKILLed mid-stream, another started: its partitions' states are
    restored, replayed messages skipped; the findings (deduplicated by id, K3) equal detect and
    every point is accounted for."""
    expected, messages = prepare()
    cluster = Cluster()
    half = len(messages) // 2
    cluster.produce(TOPIC, keyed(messages[:half]))
    a = Consumer(cluster, "--checkpoint-interval", "1s", "--output-topic", "findings", name="a")
    b = Consumer(cluster, "--checkpoint-interval", "1s", "--output-topic", "findings", name="b")
    cluster.wait_committed_to_end()
    # More data, then a kill before all of it is checkpointed.
    cluster.produce(TOPIC, keyed(messages[half:half + half // 2]))
    time.sleep(0.3)
    a.stop(signal.SIGKILL)
    c = Consumer(cluster, "--checkpoint-interval", "1s", "--output-topic", "findings", name="c")
    cluster.produce(TOPIC, keyed(messages[half + half // 2:]) + ticks())
    cluster.wait_committed_to_end(timeout=90)
    for x in (b, c):
        x.proc.send_signal(signal.SIGTERM)
    for x in (b, c):
        check(x.stop() == 0, f"consume exited {x.proc.returncode}:\n{x.stderr()}")
    by_id = {}
    for _, _, key, value in cluster.read("findings"):
        by_id.setdefault(key, set()).add(value.rstrip(b"\n"))
    check(all(len(v) == 1 for v in by_id.values()), "one finding id with different findings")
    check_same_findings(expected, [next(iter(v)) for v in by_id.values()], "after a kill")
    restored = re.findall(r"state restored at offset", c.stderr() + b.stderr())
    check(restored, "no state was restored after the kill")
    counts = final_partition_counts([a.stderr(), b.stderr(), c.stderr()])
    check(sorted(counts) == list(range(PARTITIONS)), f"final states of {sorted(counts)}")
    total = sum(acc + rej for _, acc, rej in counts.values())
    check(total == produced_points(messages),
          f"{total} points in the final states, {produced_points(messages)} produced")


def case_consumer_added_rebalance():
    """K3, K5: a consumer added mid-stream: the partitions it takes move with their states;
    the union of findings equals detect, no duplicates, every point accounted for."""
    expected, messages = prepare()
    cluster = Cluster()
    half = len(messages) // 2
    cluster.produce(TOPIC, keyed(messages[:half]))
    outs = [os.path.join(WORK, f"findings-{n}.jsonl") for n in ("a", "b")]
    a = Consumer(cluster, "--checkpoint-interval", "1s", "-o", outs[0], name="a")
    cluster.wait_committed_to_end()
    b = Consumer(cluster, "--checkpoint-interval", "1s", "-o", outs[1], name="b")
    deadline = time.monotonic() + 60
    while "assigned metrics/" not in b.stderr() and time.monotonic() < deadline:
        time.sleep(0.2)
    check("assigned metrics/" in b.stderr(), "the added consumer was never assigned a partition")
    cluster.produce(TOPIC, keyed(messages[half:]) + ticks())
    cluster.wait_committed_to_end()
    for x in (a, b):
        x.proc.send_signal(signal.SIGTERM)
    for x in (a, b):
        check(x.stop() == 0, f"consume exited {x.proc.returncode}:\n{x.stderr()}")
    check("state restored at offset" in b.stderr(), "b restored no state:\n" + b.stderr())
    check_same_findings(expected, file_findings(outs), "after a rebalance")
    counts = final_partition_counts([a.stderr(), b.stderr()])
    total = sum(acc + rej for _, acc, rej in counts.values())
    check(total == produced_points(messages),
          f"{total} points in the final states, {produced_points(messages)} produced")


def case_corrupt_state_refused():
    """K3: a state message that is not a state, or one taken under other settings, is refused
    with a clear error and exit 1; nothing is consumed or committed from it."""
    expected, messages = prepare(pods=8)
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(messages))
    # Every partition's manifest key on both state partitions: one of them is where it lives.
    garbage = [(sp, f"{GROUP}/{TOPIC}/{p}".encode(), b'{"not":"a state"}')
               for p in range(PARTITIONS) for sp in (0, 1)]
    cluster.produce(STATE_TOPIC, garbage)
    c = Consumer(cluster, "--checkpoint-interval", "1s", "-o", os.path.join(WORK, "x.jsonl"))
    try:
        c.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("consume did not stop on a corrupt state:\n" + c.stderr())
    c.err.close()
    err = c.stderr()
    check(c.proc.returncode == 1, f"exit {c.proc.returncode}:\n{err}")
    check(re.search(r"the state of metrics/\d+ in \S+ is refused: .*is not a k8snetio state "
                    r"manifest", err), err)
    check(not re.search(r"points [1-9]", err), "points were consumed:\n" + err)
    check(all(c == -1001 for c, _ in cluster.committed().values()), "offsets were committed")

    # A real state under other settings (another sigma): refused as such, not half-loaded.
    cluster2 = Cluster()
    cluster.proc.stdin.close()
    cluster2.produce(TOPIC, keyed(messages))
    first = Consumer(cluster2, "--checkpoint-interval", "1s", "--sigma", "3", "-o",
                     os.path.join(WORK, "y.jsonl"), name="first")
    cluster2.wait_committed_to_end()
    check(first.stop() == 0, first.stderr())
    second = Consumer(cluster2, "--checkpoint-interval", "1s", "-o",
                      os.path.join(WORK, "z.jsonl"), name="second")
    second.proc.wait(timeout=60)
    second.err.close()
    err = second.stderr()
    check(second.proc.returncode == 1, f"exit {second.proc.returncode}:\n{err}")
    check(re.search(r"is refused: .*other settings.*sigma=3.*sigma=4", err), err)


def case_malformed_messages_counted():
    """K1: bad JSON, a protobuf payload and an empty message are counted and named by topic,
    partition and offset, and never stop the consumer: the findings still equal detect."""
    expected, messages = prepare()
    cluster = Cluster()
    bad = [(2, b"x", b'{"resourceMetrics":[{"resource":'),        # metrics/2@0: bad JSON
           (2, b"y", b"\x0a\x8c\x01\x0a\x1f\x0a\x10k8s.pod.name"),  # metrics/2@1: cut short
           (4, b"z", b"")]                                          # metrics/4@0: empty
    cluster.produce(TOPIC, bad + keyed(messages) + ticks())
    out = os.path.join(WORK, "findings.jsonl")
    c = Consumer(cluster, "--checkpoint-interval", "1s", "-o", out)
    cluster.wait_committed_to_end()
    check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    err = c.stderr()
    check("3 malformed messages" in err, err)
    check(re.search(r"malformed message metrics/2@0: .*bad syntax", err), err)
    check(re.search(r"malformed message metrics/2@1: .*byte \d+", err),
          err)
    check(re.search(r"malformed message metrics/4@0: empty message", err), err)
    check_same_findings(expected, file_findings([out]), "with malformed messages")
    accepted, rejected = summary_points(err)
    # L0: the bad JSON and the cut-short protobuf each count once as rejected (bad_syntax), as
    # serve counts them.
    check(accepted + rejected == produced_points(messages) + 2,
          f"accepted {accepted} + rejected {rejected} != {produced_points(messages)} + 2")
    check(re.search(r"2 bad_syntax", err), err)


def case_hec_input_same_findings():
    """K1, K5: --input-format hec: Splunk HEC metric events (one pod's events of one interval
    per message, keyed by pod) over 6 partitions, 2 consumers = detect over the same events."""
    _, _ = prepare()
    hour = os.path.join(WORK, "hour.hec")
    run("simulate", "--pods", "16", "--hours", "1", "--seed", "8", "--start", str(HOUR),
        "--incident", "exfil", "--incident", "blip", "--format", "hec", "-o", hour)
    expected = detect_lines(hour)
    check(expected, "detect found nothing in the HEC hour")
    groups = hec_groups(hour)
    records = hec_records(groups)
    # Points are measurements: a multi-measurement event holds one per metric_name:<name> key.
    events = sum(max(1, sum(k.startswith("metric_name:") for k in json.loads(l)["fields"]))
                 for lines in groups.values() for l in lines)
    tick_records = [(p, f"tick-{p}".encode(),
                     json.dumps({"event": "metric", "time": HOUR + 3600 + 100, "fields": {
                         "metric_name:k8s.pod.network.io": 1, "k8s.cluster.name": "tick",
                         "k8s.node.name": "tick", "k8s.pod.name": f"tick-{p}",
                         "direction": "transmit"}}).encode()) for p in range(PARTITIONS)]
    cluster = Cluster()
    outs = [os.path.join(WORK, f"findings-{n}.jsonl") for n in ("a", "b")]
    consumers = [Consumer(cluster, "--input-format", "hec", "--checkpoint-interval", "1s", "-o",
                          out, name=f"c{i}") for i, out in enumerate(outs)]
    time.sleep(3)
    cluster.produce(TOPIC, records + tick_records)
    cluster.wait_committed_to_end()
    for c in consumers:
        c.proc.send_signal(signal.SIGTERM)
    for c in consumers:
        check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    check_same_findings(expected, file_findings(outs), "HEC input")
    total = sum(sum(summary_points(c.stderr())) for c in consumers)
    # L0: a measurement of another metric is ignored, never counted as accepted.
    others = sum(sum(k.startswith("metric_name:") and k != "metric_name:k8s.pod.network.io"
                     for k in json.loads(l)["fields"]) for lines in groups.values() for l in lines)
    ignored = sum(int(re.search(r"rejected[^;]*?, ([\d,]+) ignored", c.stderr()).group(1)
                      .replace(",", "")) for c in consumers)
    check(ignored == others, f"{ignored} points ignored, {others} of another metric sent")
    check(total + ignored == events + PARTITIONS,
          f"{total} + {ignored} points accounted for, {events + PARTITIONS} sent")


def case_metrics_listen():
    """K1 (L4): --metrics-listen serves /healthz and Prometheus /metrics whose counters account
    for every point produced, the partitions held and the last state write."""
    _, messages = prepare(pods=4)
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(messages) + ticks())
    c = Consumer(cluster, "--checkpoint-interval", "1s", "--metrics-listen", "127.0.0.1:0",
                 "-o", os.path.join(WORK, "findings.jsonl"))
    cluster.wait_committed_to_end()
    m = re.search(r"metrics on 127\.0\.0\.1:(\d+)", c.stderr())
    check(m, f"no 'metrics on' line:\n{c.stderr()}")
    base = f"http://127.0.0.1:{m.group(1)}"
    with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
        check(r.status == 200 and r.read() == b"ok\n", "/healthz")
    values = {}
    for _ in range(40):  # bounded: the exposition is refreshed every half second
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        accounted = values.get("k8snetio_points_accepted_total", 0) + sum(
            v for k, v in values.items() if k.startswith("k8snetio_points_rejected_total"))
        if accounted == produced_points(messages) and \
                values.get("k8snetio_last_state_write_timestamp_seconds", 0) > 0:
            break
        time.sleep(0.25)
    check(values.get("k8snetio_points_accepted_total", 0) + sum(
        v for k, v in values.items() if k.startswith("k8snetio_points_rejected_total")) ==
        produced_points(messages), f"/metrics does not account for every point: {values}")
    check(values.get("k8snetio_assigned_partitions") == PARTITIONS, f"{values}")
    check(values.get("k8snetio_messages_total") == len(messages) + PARTITIONS, f"{values}")
    check(values.get("k8snetio_last_state_write_timestamp_seconds", 0) > 1.6e9, f"{values}")
    check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")


def read_table(path):
    with open(path) as f:
        rows = [l.rstrip("\n").split(",") for l in f if l.strip()]
    return rows[0], {tuple(r[:3]): r[3:] for r in rows[1:]}


def case_learned_days_merge():
    """K6: with --baseline-state each partition keeps the per-day baseline state of what it
    accepted and writes its complete days to DIR/TOPIC-PARTITION/; `baseline --merge` of the
    partitions' folders equals `baseline --state` over the same events (keys and counts
    exactly, numbers within 1e-12 relative: a key's sums are added partition by partition)."""
    _, _ = prepare(pods=2)  # only the baseline table the consumers need
    hec = os.path.join(WORK, "days.hec")
    run("simulate", "--pods", "8", "--hours", "3", "--seed", "12", "--start", str(HOUR - 7200),
        "--format", "hec", "-o", hec)
    records = hec_records(hec_groups(hec))
    reference = os.path.join(WORK, "reference-state")
    run("baseline", "--state", reference, "--add", hec)
    day = "2023-11-14.k8snetio-day"  # the day before HOUR; the next one is not complete
    check(os.path.exists(os.path.join(reference, day)), f"{os.listdir(reference)}")
    want_csv = os.path.join(WORK, "want.csv")
    run("baseline", "--merge", os.path.join(reference, day), "-o", want_csv)

    learned = os.path.join(WORK, "learned")
    cluster = Cluster()
    consumers = [Consumer(cluster, "--input-format", "hec", "--checkpoint-interval", "1s",
                          "--baseline-state", learned, "-o",
                          os.path.join(WORK, f"findings-{i}.jsonl"), name=f"c{i}")
                 for i in range(2)]
    time.sleep(3)
    cluster.produce(TOPIC, records)
    cluster.wait_committed_to_end()
    for c in consumers:
        c.proc.send_signal(signal.SIGTERM)
    for c in consumers:
        check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    folders = sorted(os.path.join(learned, d) for d in os.listdir(learned))
    check(len(folders) >= 2, f"learned folders {folders}")
    for folder in folders:
        check(os.listdir(folder) == [day], f"{folder}: {os.listdir(folder)}")
    got_csv = os.path.join(WORK, "got.csv")
    run("baseline", "--merge", *folders, "-o", got_csv)
    header, got = read_table(got_csv)
    want_header, want = read_table(want_csv)
    check(header == want_header and list(got) == list(want) and got,
          f"keys {list(got)[:4]} vs {list(want)[:4]}")
    for key, cells in got.items():
        for a, b in zip(cells, want[key]):
            if a != b:
                x, y = float(a), float(b)
                check(abs(x - y) <= 1e-12 * max(abs(y), 1e-300), f"{key}: {cells} vs {want[key]}")
    check(sum(c.stderr().count("learned the day 2023-11-14") for c in consumers) >= len(folders),
          "no consumer said which days it learned")


def case_killed_consumer_file_durable():
    """K3, O6.1, RT-1: with -o FILE the findings are appended and fsynced as their windows
    close, before the offsets that produced them are committed: a consumer SIGKILLed once every
    offset is committed has every finding in its file (4.x kept them in memory until exit)."""
    expected, messages = prepare()
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(messages) + ticks())
    out = os.path.join(WORK, "findings.jsonl")
    c = Consumer(cluster, "--checkpoint-interval", "1s", "-o", out)
    cluster.wait_committed_to_end()
    c.stop(signal.SIGKILL)
    check_same_findings(expected, file_findings([out]), "killed after the commit")


def case_early_alerts():
    """K1.1, S3, L12: consume --early-alerts writes each finding first as provisional (while its
    window is open), then as final with the same finding_id; the final ones equal detect."""
    expected, messages = prepare()
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(messages) + ticks())
    out = os.path.join(WORK, "findings.jsonl")
    c = Consumer(cluster, "--checkpoint-interval", "1s", "--early-alerts", "-o", out)
    cluster.wait_committed_to_end()
    check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    lines = file_findings([out])
    provisional = [l for l in lines if b'"status":"provisional"' in l]
    final = [l for l in lines if b'"status":"final"' in l]
    check(len(provisional) + len(final) == len(lines), f"a line without L12 status: {lines[:3]}")
    check(provisional and len(provisional) == len(final) == len(expected),
          f"{len(provisional)} provisional, {len(final)} final, {len(expected)} expected")
    ids = lambda ls: sorted(json.loads(l)["finding_id"] for l in ls)
    check(ids(provisional) == ids(final), "provisional and final findings differ in id")
    check_same_findings(expected, final, "early alerts")


def otlp_protobuf(value):
    """K1.1: an OTLP JSON request as the collector's kafka exporter sends it by default
    (`encoding: otlp_proto`): one whole ExportMetricsServiceRequest, encoded by Google's encoder
    (Debian's python3-protobuf) from the test copy of the OTLP definitions (tests/proto)."""
    global PB
    from google.protobuf import json_format
    if PB is None:
        here = os.path.dirname(os.path.abspath(__file__))
        proto_dir = os.path.join(here, "..", "proto")
        out = os.path.join(WORK, "pb")
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out}",
                        os.path.join(proto_dir, "otlp_metrics_test.proto")], check=True)
        sys.path.insert(0, out)
        import otlp_metrics_test_pb2
        PB = otlp_metrics_test_pb2
    request = PB.ExportMetricsServiceRequest()
    json_format.Parse(value, request)
    return request.SerializeToString()


def case_otlp_proto_same_findings():
    """K1.1: whole otlp_proto messages (the kafka exporter's default encoding), told apart from
    JSON by content under the default --input-format otlp, give detect's findings; every point
    is accounted for and no message is malformed. The hour's messages are all protobuf; the
    ticks that close it stay JSON, so one partition's stream mixes both encodings."""
    expected, messages = prepare()
    proto = [(key, otlp_protobuf(value), points) for key, value, points in messages]
    check(all(not value.lstrip().startswith(b"{") for _, value, _ in proto),
          "a protobuf message that looks like JSON")
    cluster = Cluster()
    cluster.produce(TOPIC, keyed(proto) + ticks())
    out = os.path.join(WORK, "findings.jsonl")
    c = Consumer(cluster, "--checkpoint-interval", "1s", "-o", out)
    cluster.wait_committed_to_end()
    check(c.stop() == 0, f"consume exited {c.proc.returncode}:\n{c.stderr()}")
    check_same_findings(expected, file_findings([out]), "otlp_proto messages")
    accepted, rejected = summary_points(c.stderr())
    check(accepted + rejected == produced_points(messages),
          f"accepted {accepted} + rejected {rejected} != produced {produced_points(messages)}")
    check(re.search(r"; 0 malformed messages;", c.stderr()),
          f"protobuf messages counted as malformed:\n{c.stderr()}")


def main():
    global BIN, HELPER, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--k8s-netio", required=True)
    parser.add_argument("--helper", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("case")
    args = parser.parse_args()
    BIN, HELPER, WORK = args.k8s_netio, args.helper, args.work
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    started = time.monotonic()
    try:
        globals()["case_" + args.case]()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    print(f"kafka.{args.case}: ok in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
