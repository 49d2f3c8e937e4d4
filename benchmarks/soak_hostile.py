"""Soak harness: a long seeded campaign of hostile inputs through ``srsaoa``.

    .venv/bin/python benchmarks/soak_hostile.py [--cases 1000] [--seed 14] [--timeout 60]

Each case mutates the reference recording's metadata (types, non-finite numbers, unknown
keys, deleted keys, deep nesting) and runs ``srsaoa run`` on it in a subprocess with a
results file that already holds earlier results. Outcome classes: ok (exit 0), clean error
(exit 1, one 'srsaoa run: error:' line), crash (killed by a signal), hang (timeout),
internal error (exit 2 or a traceback), clobbered (earlier results changed by a failed
run), accepted nonsense (exit 0 although a validated field got a value of another type or a
non-finite number: the fuzz suite's rule). The targets are 0 crashes, hangs, internal
errors, clobbered files and accepted nonsense.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_fuzz_inputs import DATA, LOS, _mutations, _validated  # noqa: E402

SRSAOA = ROOT / ".venv" / "bin" / "srsaoa"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    counts: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for p in DATA.glob(f"{LOS}*"):
            shutil.copy(p, tmp / p.name)
        metas = [tmp / f"{LOS}_ch{c}.sigmf-meta" for c in range(4)]
        originals = [p.read_text() for p in metas]
        base = json.loads(originals[0])
        results = tmp / "results.jsonl"
        for i, (where, doc, nonsense) in enumerate(_mutations(base, rng, args.cases)):
            # each file gets its own channel index below, which undoes a mutation of it
            nonsense = nonsense and where != "global.srsaoa:channel"
            for c, p in enumerate(metas):
                d = copy.deepcopy(doc)
                if isinstance(d.get("global"), dict) and "srsaoa:channel" in d["global"]:
                    d["global"]["srsaoa:channel"] = c
                p.write_text(json.dumps(d))
            results.write_text("earlier\n")
            cmd = [
                str(SRSAOA),
                "run",
                "-q",
                "--no-hash-check",
                "-i",
                str(tmp / f"{LOS}.sigmf-collection"),
                "-o",
                str(results),
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                counts["hang"] += 1
                print(f"case {i} {where}: hang", flush=True)
                continue
            if proc.returncode < 0:
                kind = "crash"
            elif proc.returncode == 0:
                # a value of the wrong type or non-finite in a validated field must be refused
                kind = "accepted nonsense" if nonsense and _validated(where.split(".")) else "ok"
            elif proc.returncode == 1 and "Traceback" not in proc.stderr:
                kind = "clean error"
            else:
                kind = "internal error"
            if proc.returncode != 0 and results.read_text() != "earlier\n":
                kind = "clobbered"
            counts[kind] += 1
            if kind not in ("ok", "clean error"):
                print(f"case {i} {where}: {kind}: {proc.stderr.strip()[-300:]}", flush=True)
        for p, t in zip(metas, originals):
            p.write_text(t)
    print(json.dumps(dict(counts), indent=1, sort_keys=True))
    bad = sum(
        counts[k] for k in ("crash", "hang", "internal error", "clobbered", "accepted nonsense")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
