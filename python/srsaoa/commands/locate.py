"""``srsaoa locate``: AoA estimates of one or more anchors (+ UWB ranges) -> positions.

DESIGN section 9: ``--anchors A.yaml --estimates NAME=FILE.jsonl [...] [--ranges R.jsonl]
--out P.jsonl``; docs/positioning.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import SrsaoaError


def _estimate_args(items: list[str], names: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SrsaoaError(f"--estimates {item!r}: expected NAME=FILE.jsonl")
        if name not in names:
            raise SrsaoaError(
                f"--estimates {item!r}: unknown anchor {name!r} (anchors file has "
                f"{', '.join(names)})"
            )
        out.append((name, path))
    dup = sorted({n for n, _ in out if [m for m, _ in out].count(n) > 1})
    if dup:
        raise SrsaoaError(f"--estimates: anchor {', '.join(dup)} given more than once")
    return out


def read_truth(path: str | Path):
    """[N, 3] (t_s, x_m, y_m) of a truth JSON-lines file."""
    import numpy as np

    from ..position.epochs import read_json_lines

    rows = []
    for i, o in read_json_lines(path):
        try:
            row = [float(o["t_s"]), float(o["x_m"]), float(o["y_m"])]
        except (KeyError, TypeError, ValueError):
            raise SrsaoaError(f"{path}:{i}: truth lines need t_s, x_m, y_m") from None
        if not all(math.isfinite(v) for v in row):
            raise SrsaoaError(f"{path}:{i}: truth is not finite")
        rows.append(row)
    if not rows:
        raise SrsaoaError(f"{path}: no truth lines")
    t = np.array(rows)
    return t[np.argsort(t[:, 0])]


def truth_errors(fixes, truth):
    """Horizontal error of every fix against the truth interpolated at its time."""
    import numpy as np

    ts = np.array([f.t_s for f in fixes])
    x = np.interp(ts, truth[:, 0], truth[:, 1])
    y = np.interp(ts, truth[:, 0], truth[:, 2])
    return np.hypot([f.xy[0] for f in fixes] - x, [f.xy[1] for f in fixes] - y)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..position import (
        Locator,
        anchor_map,
        assemble,
        infer_epoch_s,
        read_anchors,
        read_estimates,
        read_ranges,
    )

    anchors = read_anchors(args.anchors)
    amap = anchor_map(anchors)
    for name, v in (
        ("--ue-height-m", args.ue_height_m),
        ("--aoa-sigma-deg", args.aoa_sigma_deg),
        ("--aoa-sigma-floor-deg", args.aoa_sigma_floor_deg),
        ("--q", args.q),
    ):
        if not math.isfinite(v):
            raise SrsaoaError(f"{name} must be finite")
    if args.aoa_sigma_deg <= 0 or args.aoa_sigma_floor_deg < 0 or args.q <= 0:
        raise SrsaoaError("--aoa-sigma-deg and --q must be > 0, --aoa-sigma-floor-deg >= 0")
    estimates = []
    for name, path in _estimate_args(args.estimates, list(amap)):
        estimates += read_estimates(
            path,
            amap[name],
            args.method,
            args.aoa_sigma_deg,
            args.aoa_sigma_floor_deg,
            args.time_key,
        )
    if not estimates:
        raise SrsaoaError("no AoA estimates in the --estimates files")
    ranges = read_ranges(args.ranges, amap) if args.ranges else []
    epoch_s = args.epoch_s if args.epoch_s is not None else infer_epoch_s(estimates)
    if not (math.isfinite(epoch_s) and epoch_s > 0):
        raise SrsaoaError(f"--epoch-s must be > 0, got {epoch_s}")
    window = args.range_window_s if args.range_window_s is not None else epoch_s
    epochs = assemble(estimates, ranges, epoch_s, window)
    alpha = None if args.outlier_alpha <= 0 else args.outlier_alpha
    loc = Locator(args.ue_height_m, track=args.track, outlier_alpha=alpha, q_m2_s3=args.q)
    fixes = [f for f in (loc.process(e) for e in epochs) if f is not None]

    lines = [json.dumps(f.to_record(), separators=(", ", ": ")) for f in fixes]
    text = "\n".join(lines) + ("\n" if lines else "")
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
    truth = read_truth(args.truth) if args.truth else None
    msg = (
        f"{len(fixes)} positions from {len(epochs)} epochs of {epoch_s * 1e3:g} ms "
        f"({loc.num_unsolved} not solvable), {len(estimates)} AoA estimates, "
        f"{len(ranges)} ranges, {'EKF track' if args.track else 'snapshot WLS'}"
    )
    if truth is not None and fixes:
        err = truth_errors(fixes, truth)
        msg += (
            f"; error vs truth: p50 {np.percentile(err, 50):.3f} m, "
            f"p80 {np.percentile(err, 80):.3f} m, p95 {np.percentile(err, 95):.3f} m"
        )
    print(msg, file=sys.stderr if args.out == "-" else sys.stdout)
    if args.plot:
        from ..position.plot import plot_map

        plot_map(
            args.plot,
            anchors,
            fixes,
            None if truth is None else truth[:, 1:],
            ue_height_m=args.ue_height_m,
        )
    if not fixes:
        raise SrsaoaError(
            "no position could be solved (one anchor needs a range; several anchors need "
            "AoA estimates in the same epochs: check --epoch-s and the time bases)"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "locate",
        help="positions from AoA estimates of one or more anchors (+ UWB ranges)",
        description="Fuse the AoA estimates (JSON lines of `srsaoa run`) of one or more "
        "anchors and optional UWB ranges into positions: one JSON object per line "
        "{t_s, x_m, y_m, cov_m2, anchors, method} (docs/positioning.md). AoA weights are "
        "the estimates' crb_deg.",
    )
    p.add_argument("--anchors", required=True, help="anchors YAML (name, position_m, yaw_deg)")
    p.add_argument(
        "--estimates",
        required=True,
        nargs="+",
        metavar="NAME=FILE.jsonl",
        help="estimates of the anchor NAME (one or more)",
    )
    p.add_argument("--ranges", help="UWB ranges, JSON lines {t_s, anchor, range_m, sigma_m}")
    p.add_argument("--out", required=True, help="positions JSON lines ('-' = stdout)")
    p.add_argument("--method", help="estimator to use when the files hold several (e.g. esprit)")
    p.add_argument(
        "--epoch-s",
        type=float,
        help="epoch length (s): estimates within it are fused (default: the estimate period)",
    )
    p.add_argument(
        "--range-window-s", type=float, help="max |t_range - t_epoch| (s; default: --epoch-s)"
    )
    p.add_argument("--ue-height-m", type=float, default=0.0, help="UE height z (m, default 0)")
    p.add_argument(
        "--aoa-sigma-deg",
        type=float,
        default=1.0,
        help="AoA standard deviation for estimates without crb_deg (deg, default 1)",
    )
    p.add_argument(
        "--aoa-sigma-floor-deg",
        type=float,
        default=0.0,
        help="lower limit of the AoA standard deviation (deg): calibration residue a CRB "
        "does not see (default 0)",
    )
    p.add_argument(
        "--outlier-alpha",
        type=float,
        default=1e-3,
        help="significance of the chi-square outlier test (0 disables rejection)",
    )
    p.add_argument(
        "--track", action="store_true", help="constant-velocity EKF instead of snapshots"
    )
    p.add_argument(
        "--q", type=float, default=0.5, help="EKF acceleration noise density (m^2/s^3, default 0.5)"
    )
    p.add_argument(
        "--time-key", default="t_s", choices=["t_s", "rx_time"], help="estimate time field"
    )
    p.add_argument("--truth", help="truth JSON lines {t_s, x_m, y_m}: errors and map")
    p.add_argument("--plot", help="write the map (PNG) here")
    p.set_defaults(func=_run)
