#!/usr/bin/env bash
# Run every test: C++ unit tests through ctest, then the pytest suite (lint and format
# gates, GRC yml checks, math, blocks in flowgraphs, examples). pytest's summary line
# is the last line. Hardware tests in tests/hil skip unless SRSAOA_USRP_RX is set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "== ctest"
ctest --test-dir build --output-on-failure
echo "== pytest"
exec .venv/bin/python -m pytest tests "$@"
