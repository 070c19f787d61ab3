#!/usr/bin/env bash
# Runs upstream Icechunk's own test-suite (v1.1.21, kept outside the project in
# ../shared/upstream-suite) against this package, minus the deliberate deviations listed in
# tests/upstream-deviations.txt. Needs .venv (bash scripts/test.sh makes it).
# Extra arguments go to the suite's runner, e.g. `bash scripts/upstream_suite.sh tests/test_store.py`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
suite=""
for candidate in "${UPSTREAM_SUITE_DIR:-}" "$root/../shared/upstream-suite"; do
    if [ -n "$candidate" ] && [ -x "$candidate/run.sh" ]; then
        suite=$candidate
        break
    fi
done
if [ -z "$suite" ]; then
    echo "upstream suite: ../shared/upstream-suite is not here (set UPSTREAM_SUITE_DIR to" \
        "point at it); skipping upstream Icechunk's own tests" >&2
    exit 0
fi
args=()
while IFS= read -r line || [ -n "$line" ]; do
    line="${line%%#*}"
    read -r node _ <<<"$line" || true
    [ -n "${node:-}" ] && args+=("--deselect=$node")
done <tests/upstream-deviations.txt
exec "$suite/run.sh" .venv/bin/python "${args[@]}" "$@"
