#!/usr/bin/env bash
# Run every test: C++ unit tests through ctest, then pytest: first everything but the QT
# GUI flowgraphs, then those in a process of their own (QT/qtgui state left in a process
# has crashed later tests). Lint and format gates, GRC yml checks, math, blocks in
# flowgraphs and examples are all pytest tests. pytest's summary is the last line.
# Hardware tests in tests/hil skip unless SRSAOA_USRP_RX is set.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "== ctest"
ctest --test-dir build --output-on-failure || exit 1
echo "== pytest"
.venv/bin/python -m pytest tests -m "not qt" "$@" || exit $?
echo "== pytest (QT GUI flowgraphs, own process)"
.venv/bin/python -m pytest tests -m qt "$@"
rc=$?
# 5 = nothing selected (e.g. a file argument without QT tests): not a failure
[ "$rc" -eq 5 ] && exit 0
exit "$rc"
