"""``srsaoa run --calibration CAL.json`` with a sweep (manifold) calibration, end to end.

A recording of the project's default impaired array (``srsaoa simulate``, LOS at -20 deg,
10 dB per RE, 10 SRS occasions) and a manifold calibration fitted (P-spline every 2 deg,
6 bands) to that array's true response with an identity constant part. The calibrated
methods must reach their bound; ESPRIT (angle-independent part only) keeps the array's
bias (4.7 deg at -20 deg for this array, noise-free).

Bound per method: n = 10 estimates, each with the stochastic CRB the estimator reports
(``crb_deg``, ~0.05 deg); RMSE <= 1.2 rms(crb) sqrt(chi2_0.999(n) / n) (module docstring
of test_calibrated_estimation) plus 0.02 deg for the spline fit of the manifold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

ROOT = Path(__file__).resolve().parent.parent
SRSAOA = Path(sys.executable).parent / "srsaoa"
AOA = -20.0


def srsaoa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SRSAOA), *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


def manifold_file(rec: Path, out: Path, num_elements: int | None = None) -> Path:
    from gnuradio.srsaoa.array.calibration import Calibration
    from gnuradio.srsaoa.array.geometry import ULA
    from gnuradio.srsaoa.array.impairments import ImpairmentProfile
    from gnuradio.srsaoa.array.manifold import ManifoldCalibration, ProfileManifold, SplineBasis

    g = json.loads(Path(f"{rec}_ch0.sigmf-meta").read_text())["global"]
    car, ula = g["srsaoa:carrier"], ULA.from_dict(g["srsaoa:array"])
    prof = ImpairmentProfile.from_dict(g["srsaoa:truth"]["impairments"])
    scs, n = car["subcarrier_spacing"] * 1e3, car["n_size_grid"]
    edges = np.linspace(-6 * n * scs, 6 * n * scs, 7)
    true = ProfileManifold(prof, ula, edges)
    basis = SplineBasis.uniform(-70.0, 70.0, 2.0)
    th = np.linspace(-70.0, 70.0, 561)
    m = ula.num_elements
    r = true.steering(th) / ula.steering(th)[:, :, None]  # [M, L, B]
    coef = np.linalg.lstsq(basis.matrix(th), r.transpose(1, 2, 0).reshape(th.size, -1), None)[0]
    coef = coef.reshape(-1, edges.size - 1, m).transpose(1, 2, 0)
    if num_elements is not None:  # a calibration of another array
        coef, m = coef[:, :num_elements], num_elements
    man = ManifoldCalibration(
        num_elements=m,
        spacing_wavelengths=ula.spacing_wavelengths,
        band_edges_hz=edges,
        basis=basis,
        angle_range_deg=(-70.0, 70.0),
        coef=coef,
        constant=Calibration(np.ones(m), np.zeros(m), np.zeros(m)),
        radio={"carrier": car},
    )
    man.save(out)
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("impaired")
    scenario = ROOT / "examples" / "scenarios" / "impaired_gnb.yaml"
    proc = srsaoa("simulate", "--scenario", str(scenario), "--out", str(d / "imp"),
                  "--num-slots", "10", "--snr-db", "10", "--aoa-deg", str(AOA), "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return d / "imp"


def test_run_with_manifold_calibration(recording, tmp_path):
    cal = manifold_file(recording, tmp_path / "cal.json")
    out = tmp_path / "r.jsonl"
    methods = ("music", "ml", "2d-ml", "dbf", "esprit")
    proc = srsaoa("run", "--input", f"{recording}.sigmf-collection", "--calibration", str(cal),
                  "--method", ",".join(methods), "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    by = {m: [r for r in recs if r["method"] == m] for m in methods}
    assert all(len(v) == 10 for v in by.values()), {m: len(v) for m, v in by.items()}
    factor = np.sqrt(chi2.ppf(0.999, 10) / 10)
    for m in ("music", "ml", "2d-ml", "dbf"):
        err = np.array([r["aoa_deg"][0] - AOA for r in by[m]])
        crb = np.array([r["crb_deg"][0] for r in by[m]])
        assert np.all((crb > 0.02) & (crb < 0.1)), (m, crb)
        rmse = float(np.sqrt(np.mean(err**2)))
        assert rmse <= 1.2 * np.sqrt(np.mean(crb**2)) * factor + 0.02, (m, rmse)
    assert all(r["delay_s"] is not None for r in by["2d-ml"])
    esprit = np.array([r["aoa_deg"][0] for r in by["esprit"]])
    assert abs(np.median(esprit) - AOA) > 2.0  # the angle-dependent error is not removed


def test_run_refuses_a_manifold_of_another_array(recording, tmp_path):
    cal = manifold_file(recording, tmp_path / "cal3.json", num_elements=3)
    proc = srsaoa("run", "--input", f"{recording}.sigmf-collection", "--calibration", str(cal),
                  "--method", "ml", "--out", str(tmp_path / "r.jsonl"))  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "3 elements" in proc.stderr
    d = json.loads(manifold_file(recording, tmp_path / "cal.json").read_text())
    d["radio"]["carrier"]["n_size_grid"] = 52
    other = tmp_path / "other.json"
    other.write_text(json.dumps(d))
    proc = srsaoa("run", "--input", f"{recording}.sigmf-collection", "--calibration", str(other),
                  "--method", "ml", "--out", str(tmp_path / "r.jsonl"))  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "n_size_grid" in proc.stderr
