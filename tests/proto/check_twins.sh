#!/usr/bin/env bash
# ctest proto.twins: the committed protobuf twins (tests/data/otlp_proto/) are what Google's
# encoder makes of today's JSON test requests (tests/data/otlp_*.jsonl). After changing a JSON
# request, regenerate them:  tests/proto/encode_twins.py tests/data/otlp_proto tests/data/otlp_*.jsonl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3 has python3-protobuf; another python3 first on PATH may not.
python=python3
[[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
"$python" "$here/encode_twins.py" "$work" "$data"/otlp_*.jsonl
diff -r "$work" "$data/otlp_proto" && echo "protobuf twins up to date"
