"""Extended Kalman filter for a UE walking on the ground: constant velocity, gated updates.

State s = (x, y, vx, vy). Prediction over dt with continuous white acceleration of spectral
density q (m^2/s^3) per axis: F = [[I, dt I], [0, I]], Q = q [[dt^3/3 I, dt^2/2 I],
[dt^2/2 I, dt I]] (Bar-Shalom, Li, Kirubarajan, Estimation with Applications to Tracking and
Navigation, section 6.2.2). The AoA and range measurements update the state one at a time
(EKF, Joseph form); a measurement whose normalised innovation squared exceeds the chi-square
gate (1 degree of freedom) is rejected. The filter starts from the first snapshot fix that
the WLS solver (``solve``, with its outlier rejection) finds, and restarts from the epoch's
snapshot fix when the prediction and that fix disagree beyond the chi-square (2 dof)
quantile ``restart_probability`` of cov_pred + cov_fix in ``restart_after`` successive
epochs (a manoeuvre the constant-velocity model did not follow; a single outlying epoch is
gated instead), or after ``max_misses`` epochs in which every measurement was gated
out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from .solve import Fix, Measurement, solve


class PositionTracker:
    """Constant-velocity EKF over AoA/range measurement epochs (see the module docstring)."""

    def __init__(
        self,
        q_m2_s3: float = 0.5,
        gate_probability: float = 0.999,
        initial_speed_sigma_m_s: float = 2.0,
        max_misses: int = 5,
        ue_height_m: float = 0.0,
        restart_probability: float = 1.0 - 1e-6,
        restart_after: int = 2,
    ) -> None:
        if not (math.isfinite(q_m2_s3) and q_m2_s3 > 0):
            raise ValueError(f"q_m2_s3 must be > 0, got {q_m2_s3}")
        if not (0.0 < gate_probability < 1.0):
            raise ValueError(f"gate_probability must lie in (0, 1), got {gate_probability}")
        if not (initial_speed_sigma_m_s > 0):
            raise ValueError("initial_speed_sigma_m_s must be > 0")
        if int(max_misses) < 1:
            raise ValueError("max_misses must be >= 1")
        self.q = float(q_m2_s3)
        self.gate = float(chi2.ppf(gate_probability, 1))
        self.v0 = float(initial_speed_sigma_m_s)
        self.max_misses = int(max_misses)
        self.ue_height_m = float(ue_height_m)
        self.restart_threshold = float(chi2.ppf(restart_probability, 2))
        if int(restart_after) < 1:
            raise ValueError("restart_after must be >= 1")
        self.restart_after = int(restart_after)
        self.restarts = 0
        self.reset()

    def reset(self) -> None:
        self.s: NDArray[np.float64] | None = None
        self.p: NDArray[np.float64] | None = None
        self.t: float | None = None
        self.misses = 0
        self.inconsistent = 0

    def _predict(self, t: float) -> None:
        dt = t - self.t
        if dt > 0:
            f = np.eye(4)
            f[0, 2] = f[1, 3] = dt
            q = self.q * np.array(
                [
                    [dt**3 / 3, 0, dt**2 / 2, 0],
                    [0, dt**3 / 3, 0, dt**2 / 2],
                    [dt**2 / 2, 0, dt, 0],
                    [0, dt**2 / 2, 0, dt],
                ]
            )
            self.s = f @ self.s
            self.p = f @ self.p @ f.T + q
            self.t = t

    def _start(self, fix: Fix) -> Fix:
        self.s = np.array([fix.xy[0], fix.xy[1], 0.0, 0.0])
        self.p = np.zeros((4, 4))
        self.p[:2, :2] = fix.cov
        self.p[2, 2] = self.p[3, 3] = self.v0**2
        self.t = fix.t_s
        self.misses = 0
        self.inconsistent = 0
        return Fix(fix.t_s, fix.xy.copy(), fix.cov.copy(), "ekf", fix.used, fix.rejected)

    def update(self, ms: Sequence[Measurement], t_s: float | None = None) -> Fix | None:
        """Process one epoch; the filtered position, or None before the filter has started."""
        ms = list(ms)
        if not ms:
            return None
        t = float(np.mean([m.t_s for m in ms])) if t_s is None else float(t_s)
        if self.s is None or self.misses >= self.max_misses:
            fix = solve(ms, self.ue_height_m, t)
            return None if fix is None else self._start(fix)
        self._predict(t)
        snap = solve(ms, self.ue_height_m, t)
        if snap is not None:
            # a turn or a jump the constant-velocity model cannot follow: restart from the
            # snapshot fix rather than gate out every measurement from now on
            e = snap.xy - self.s[:2]
            d2 = float(e @ np.linalg.solve(self.p[:2, :2] + snap.cov, e))
            if d2 <= self.restart_threshold:
                self.inconsistent = 0
            else:
                self.inconsistent += 1
                if self.inconsistent >= self.restart_after:
                    self.restarts += 1
                    return self._start(snap)
        used, rejected = [], []
        for m in ms:
            xy = self.s[:2]
            try:
                z = m.predict(xy, self.ue_height_m)
                g = m.jacobian(xy, self.ue_height_m)
            except ValueError:
                rejected.append(m)
                continue
            h = np.array([g[0], g[1], 0.0, 0.0])
            nu = m.value - z
            s = float(h @ self.p @ h) + m.sigma**2
            if nu * nu / s > self.gate:
                rejected.append(m)
                continue
            k = self.p @ h / s
            self.s = self.s + k * nu
            a = np.eye(4) - np.outer(k, h)
            self.p = a @ self.p @ a.T + np.outer(k, k) * m.sigma**2
            used.append(m)
        self.misses = 0 if used else self.misses + 1
        cov = 0.5 * (self.p[:2, :2] + self.p[:2, :2].T)
        return Fix(t, self.s[:2].copy(), cov, "ekf", used, rejected)

    @property
    def velocity(self) -> NDArray[np.float64] | None:
        return None if self.s is None else self.s[2:].copy()
