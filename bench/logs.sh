#!/usr/bin/env bash
# Log throughput (MB/s, lines/s) and monitor Pss: SimCon's k8s-file and json-file next to conmon's k8s-file under
# runc, on the same container. Run as root after `make setup`. Sizes: BENCH_LOG_MB (64), BENCH_LOG_RUNS (3).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../.venv/bin/python" "$HERE/logs.py" "$@"
