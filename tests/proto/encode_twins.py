#!/usr/bin/env python3
"""Encodes the protobuf twins of OTLP JSON test requests (spec I3.5), with Google's protobuf
encoder (Debian python3-protobuf) and a protoc-compiled copy of the message definitions
(otlp_metrics_test.proto), so that the reader is tested against bytes it did not write.

    encode_twins.py OUT_DIR IN.jsonl...

For each IN.jsonl (one request per line) it writes into OUT_DIR:
  IN.twins  every line the encoder accepts, as: the line number (4 bytes, big-endian), the
            request's length (4 bytes, big-endian), the request;
  IN.pb     those requests in the collector file exporter's `format: proto` framing (each
            preceded by its length as a 4-byte big-endian integer), for the batch-file tests;
  IN.reordered.twins  as IN.twins, with every message's fields written in the reverse of the
            field-number order (a repeated field's elements keep theirs), which protobuf
            allows: the resource after the scopes, the data before the metric's name, …
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


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def reordered(message):
    """The message's encoding with its fields in reverse field-number order."""
    from google.protobuf.descriptor import FieldDescriptor
    out = bytearray()
    for field, value in reversed(message.ListFields()):
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if field.label == FieldDescriptor.LABEL_REPEATED else [value]
            for item in items:
                body = reordered(item)
                out += varint(field.number << 3 | 2) + varint(len(body)) + body
        else:
            # A scalar field alone in a copy of its message encodes as that field's bytes.
            alone = type(message)()
            if field.label == FieldDescriptor.LABEL_REPEATED:
                getattr(alone, field.name).extend(value)
            else:
                setattr(alone, field.name, value)
            out += alone.SerializeToString(deterministic=True)
    return bytes(out)


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
            twins, framed, reordered_twins = bytearray(), bytearray(), bytearray()
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
                    other = reordered(request)
                    reordered_twins += struct.pack(">II", number, len(other)) + other
            with open(os.path.join(out_dir, name + ".twins"), "wb") as f:
                f.write(twins)
            with open(os.path.join(out_dir, name + ".pb"), "wb") as f:
                f.write(framed)
            with open(os.path.join(out_dir, name + ".reordered.twins"), "wb") as f:
                f.write(reordered_twins)


if __name__ == "__main__":
    main()
