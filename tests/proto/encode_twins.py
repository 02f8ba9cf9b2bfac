#!/usr/bin/env python3
"""Encodes the protobuf twins of OTLP JSON test requests (spec I3.5), with Google's protobuf
encoder (Debian python3-protobuf) and a protoc-compiled copy of the message definitions
(otlp_metrics_test.proto), so that the reader is tested against bytes it did not write.

    encode_twins.py OUT_DIR IN.jsonl...

For each IN.jsonl (one request per line) it writes into OUT_DIR:
  IN.twins  every line the encoder accepts, as: the line number (4 bytes, big-endian), the
            request's length (4 bytes, big-endian), the request;
  IN.pb     those requests in the collector file exporter's `format: proto` framing (each
            preceded by its length as a 4-byte big-endian integer), for the batch-file tests.
Lines the JSON mapping refuses (malformed JSON, "asInt": "12x", …) have no twin: they test
the JSON path alone. protoc must be on PATH; the output is the same on every run.
"""
import importlib
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def load_messages(work):
    subprocess.run(["protoc", f"--proto_path={HERE}", f"--python_out={work}",
                    os.path.join(HERE, "otlp_metrics_test.proto")], check=True)
    sys.path.insert(0, work)
    return importlib.import_module("otlp_metrics_test_pb2")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    from google.protobuf import json_format

    with tempfile.TemporaryDirectory() as work:
        messages = load_messages(work)
        for path in sys.argv[2:]:
            name = os.path.splitext(os.path.basename(path))[0]
            twins, framed = bytearray(), bytearray()
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    request = messages.ExportMetricsServiceRequest()
                    try:
                        json_format.Parse(line, request, ignore_unknown_fields=True)
                    except json_format.ParseError:
                        continue
                    data = request.SerializeToString(deterministic=True)
                    twins += struct.pack(">II", number, len(data)) + data
                    framed += struct.pack(">I", len(data)) + data
            with open(os.path.join(out_dir, name + ".twins"), "wb") as f:
                f.write(twins)
            with open(os.path.join(out_dir, name + ".pb"), "wb") as f:
                f.write(framed)


if __name__ == "__main__":
    main()
