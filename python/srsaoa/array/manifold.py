"""Measured array manifold: calibration of an unknown array from a turntable sweep.

A *manifold* gives the array's actual response b(theta, f) (element 0 referenced, [M]) for a
plane wave from ``theta`` (deg, DESIGN section 3) at baseband frequency ``f`` (Hz). Every
calibrated estimator (``estimation.calibrated``), the spatial spectra and MoD-DNN training
from a sweep see an array only through this small interface (:class:`Manifold`):

- ``num_elements``, ``spacing_wavelengths``: the nominal ULA (used for the ideal part and
  for the estimators that only take the angle-independent correction: ESPRIT, root-MUSIC);
- ``angle_range_deg``: the angles the manifold is known for (a sweep's coverage);
- ``band_edges_hz``: B + 1 increasing edges of the frequency bands the response was measured
  in (one band when it does not change across the SRS bandwidth); estimators form one
  covariance per band and use the response at the band centre;
- ``steering(theta_deg, freqs_hz)`` -> [M, L, F] complex, b_0 = 1 (element 0 is the phase
  and amplitude reference), ``freqs_hz=None`` means the band centres;
- ``derivative(theta_deg, freqs_hz)`` -> d b / d theta in 1/rad, same shape.

:class:`ManifoldCalibration` is the measured manifold (fitted by ``fit_manifold`` from
per-angle steering vectors; ``srsaoa calibrate --sweep``); :class:`ProfileManifold` wraps a
known simulated array (an ``ImpairmentProfile``), the oracle the tests compare against; and
:class:`IdealManifold` is the nominal ULA.

Model (docs/calibration.md): after the angle-independent correction c_m(f) =
1 / (g_m exp(-j 2 pi f tau_m)) that ``cfr_extractor`` applies (the constant part, the same
gain / phase / delay as a single-angle calibration), the response relative to the nominal
steering vector,

    r_m(theta, f_b) = b_m(theta, f_b) / a_m(theta),

is smooth in theta (it holds the gain/phase mismatch, the angle-dependent phase error and
the coupling terms, all slow next to a_m's own phase). Each element and band is a cubic
B-spline in theta with a second-difference penalty (a P-spline, Eilers and Marx 1996) whose
weight is chosen by cross-validation on held-out sweep angles. Between band centres the
response is interpolated linearly in frequency; outside them it is held.

Plain numpy/scipy; never imports GNU Radio.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .geometry import ULA, steering_vector

__all__ = [
    "IdealManifold",
    "Manifold",
    "ProfileManifold",
    "band_index",
    "band_centres",
]


@runtime_checkable
class Manifold(Protocol):
    """What the calibrated estimators need to know about an array (module docstring)."""

    num_elements: int
    spacing_wavelengths: float
    angle_range_deg: tuple[float, float]
    band_edges_hz: NDArray[np.float64]

    def steering(
        self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None
    ) -> NDArray[np.complex128]: ...

    def derivative(
        self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None
    ) -> NDArray[np.complex128]: ...


def band_centres(edges_hz: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(edges_hz, dtype=np.float64)
    lo, hi = e[:-1], e[1:]
    both = np.isfinite(lo) & np.isfinite(hi)
    one = np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))
    return np.where(both, 0.5 * (np.where(both, lo, 0) + np.where(both, hi, 0)), one)


def band_index(edges_hz: ArrayLike, freqs_hz: ArrayLike) -> NDArray[np.intp]:
    """Band of each frequency: the band whose [lo, hi) holds it; frequencies outside all bands
    go to the nearest end band (a wider SRS than the sweep's: the response is held)."""
    e = np.asarray(edges_hz, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    return np.clip(np.searchsorted(e, f, side="right") - 1, 0, e.size - 2).astype(np.intp)


def _angles(theta_deg: ArrayLike) -> NDArray[np.float64]:
    th = np.atleast_1d(np.asarray(theta_deg, dtype=np.float64))
    if th.ndim != 1:
        raise ValueError(f"angles must be a scalar or a 1-D array, got shape {th.shape}")
    if not np.all(np.isfinite(th)):
        raise ValueError("angles must be finite")
    return th


def _nominal(m: int, spacing: float, th: NDArray) -> tuple[NDArray, NDArray]:
    """a [M, L] and d a / d theta (1/rad) [M, L] of the nominal ULA."""
    a = steering_vector(m, spacing, th)
    mm = np.arange(m, dtype=np.float64)[:, None]
    da = 1j * 2 * np.pi * spacing * mm * np.cos(np.deg2rad(th))[None, :] * a
    return a, da


class IdealManifold:
    """The nominal ULA: b(theta, f) = a(theta) at every frequency (one band)."""

    def __init__(
        self,
        num_elements: int,
        spacing_wavelengths: float = 0.5,
        angle_range_deg: tuple[float, float] = (-90.0, 90.0),
    ) -> None:
        self.num_elements = int(num_elements)
        self.spacing_wavelengths = float(spacing_wavelengths)
        self.angle_range_deg = (float(angle_range_deg[0]), float(angle_range_deg[1]))
        self.band_edges_hz = np.array([-np.inf, np.inf])

    def _nf(self, freqs_hz: ArrayLike | None) -> int:
        return 1 if freqs_hz is None else np.atleast_1d(np.asarray(freqs_hz)).size

    def steering(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        a, _ = _nominal(self.num_elements, self.spacing_wavelengths, _angles(theta_deg))
        return np.repeat(a[:, :, None], self._nf(freqs_hz), axis=2)

    def derivative(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        _, da = _nominal(self.num_elements, self.spacing_wavelengths, _angles(theta_deg))
        return np.repeat(da[:, :, None], self._nf(freqs_hz), axis=2)


class ProfileManifold:
    """The true manifold of a simulated array (``ImpairmentProfile``), element 0 referenced,
    after an optional angle-independent correction ``multipliers(freqs_hz)`` -> [M, F] (what
    cfr_extractor applies). The oracle for tests and benchmarks."""

    def __init__(
        self,
        profile,
        ula: ULA,
        band_edges_hz: ArrayLike = (-np.inf, np.inf),
        angle_range_deg: tuple[float, float] = (-90.0, 90.0),
        correction=None,
        reference_element: bool = True,
    ) -> None:
        self.profile = profile
        self.ula = ula
        self.num_elements = int(ula.num_elements)
        self.spacing_wavelengths = float(ula.spacing_wavelengths)
        self.angle_range_deg = (float(angle_range_deg[0]), float(angle_range_deg[1]))
        self.band_edges_hz = np.asarray(band_edges_hz, dtype=np.float64)
        self.correction = correction
        self.reference_element = bool(reference_element)

    def _freqs(self, freqs_hz: ArrayLike | None) -> NDArray[np.float64]:
        if freqs_hz is not None:
            return np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64))
        c = band_centres(self.band_edges_hz)
        return np.where(np.isfinite(c), c, 0.0)

    def steering(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        th = _angles(theta_deg)
        f = self._freqs(freqs_hz)
        b = self.profile.manifold(self.ula, th, f)  # [M, L, F]
        if self.correction is not None:
            b = b * np.asarray(self.correction(f))[:, None, :]
        if self.reference_element:
            b = b / b[0:1]
        return b

    def derivative(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        th = _angles(theta_deg)
        h = 1e-4  # deg; central difference, error ~ h^2 b''' ~ 1e-9 relative
        d = (self.steering(th + h, freqs_hz) - self.steering(th - h, freqs_hz)) / (2 * h)
        return d * (180.0 / np.pi)


# =====================================================================================
# The measured manifold (srsaoa calibrate --sweep)
# =====================================================================================

MANIFOLD_FORMAT = "srsaoa-manifold-1"
SPLINE_DEGREE = 3


class ManifoldError(ValueError):
    """A sweep or manifold file that cannot be used (the message says why)."""


class AngleBasis:
    """Basis functions of the response in angle: ``matrix(theta_deg)`` -> [L, n] (complex for
    Fourier), ``penalty()`` -> [n, n] roughness penalty, ``to_dict`` / ``basis_from_dict``."""

    kind = ""
    n = 0

    def matrix(self, theta_deg: NDArray, derivative: int = 0) -> NDArray:
        raise NotImplementedError

    def penalty(self) -> NDArray[np.float64]:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError


class SplineBasis(AngleBasis):
    """Clamped cubic B-splines on [lo, hi] with knots about ``step`` deg apart; penalty on the
    second differences of the coefficients (P-spline, Eilers and Marx 1996)."""

    kind = "p-spline"

    def __init__(self, knots_deg: ArrayLike) -> None:
        t = np.asarray(knots_deg, dtype=np.float64).ravel()
        if (
            t.size < 2 * (SPLINE_DEGREE + 1)
            or not np.all(np.isfinite(t))
            or np.any(np.diff(t) < 0)
            or not t[0] < t[-1]
        ):
            raise ManifoldError("knots_deg must be a finite non-decreasing cubic knot vector")
        self.knots = t
        self.n = t.size - SPLINE_DEGREE - 1

    @classmethod
    def uniform(cls, lo: float, hi: float, step: float) -> SplineBasis:
        n_int = max(int(round((hi - lo) / step)) - 1, 0)
        interior = np.linspace(lo, hi, n_int + 2)[1:-1]
        d = SPLINE_DEGREE + 1
        return cls(np.concatenate([np.full(d, lo), interior, np.full(d, hi)]))

    def matrix(self, theta_deg: NDArray, derivative: int = 0) -> NDArray:
        from scipy.interpolate import BSpline

        xc = np.clip(theta_deg, self.knots[0], self.knots[-1])
        spl = BSpline(self.knots, np.eye(self.n), SPLINE_DEGREE, extrapolate=False)
        if derivative:
            spl = spl.derivative(derivative)
        return np.nan_to_num(np.asarray(spl(xc), dtype=np.float64))

    def penalty(self) -> NDArray[np.float64]:
        d2 = np.diff(np.eye(self.n), n=2, axis=0)
        return d2.T @ d2

    def to_dict(self) -> dict:
        return {"type": self.kind, "degree": SPLINE_DEGREE, "knots_deg": self.knots.tolist()}


class FourierBasis(AngleBasis):
    """exp(j 2 pi q (theta - centre) / period), q = -order..order: a truncated Fourier series
    in angle (the effective aperture distribution function of channel sounding, Landmann and
    Del Galdo), with a period longer than the sweep so a partial sweep need not be periodic
    (a Fourier extension); penalty q^4 (the curvature of each term)."""

    kind = "fourier"

    def __init__(self, centre_deg: float, period_deg: float, order: int) -> None:
        if not (np.isfinite(centre_deg) and np.isfinite(period_deg) and 0 < period_deg <= 720):
            raise ManifoldError("Fourier basis needs a finite centre and 0 < period <= 720 deg")
        if int(order) != order or not 0 <= order <= 500:
            raise ManifoldError(f"Fourier order must be an integer in [0, 500], got {order}")
        self.centre, self.period, self.order = float(centre_deg), float(period_deg), int(order)
        self.q = np.arange(-self.order, self.order + 1, dtype=np.float64)
        self.n = self.q.size

    def matrix(self, theta_deg: NDArray, derivative: int = 0) -> NDArray:
        w = 2 * np.pi * self.q / self.period  # rad per deg
        e = np.exp(1j * np.outer(np.asarray(theta_deg) - self.centre, w))
        return e * (1j * w[None, :]) ** derivative if derivative else e

    def penalty(self) -> NDArray[np.float64]:
        return np.diag((2 * np.pi * self.q / self.period) ** 4)

    def to_dict(self) -> dict:
        return {
            "type": self.kind,
            "centre_deg": self.centre,
            "period_deg": self.period,
            "order": self.order,
        }


def basis_from_dict(d: dict) -> AngleBasis:
    if not isinstance(d, dict):
        raise ManifoldError("the manifold model must be an object")
    kind = d.get("type")
    if kind == SplineBasis.kind:
        if int(d.get("degree", -1)) != SPLINE_DEGREE:
            raise ManifoldError(f"manifold spline degree must be {SPLINE_DEGREE}")
        return SplineBasis(d["knots_deg"])
    if kind == FourierBasis.kind:
        return FourierBasis(float(d["centre_deg"]), float(d["period_deg"]), d["order"])
    raise ManifoldError(f"unknown manifold model type {kind!r} (p-spline or fourier)")


def _freq_weights(centres: NDArray, freqs: NDArray, edges: NDArray | None = None) -> NDArray:
    """[F, B] weights of linear interpolation between band centres; beyond the outermost
    centres the line is extended up to the outer band edges (the response is smooth in
    frequency: a phase slope), then held."""
    b = centres.size
    w = np.zeros((freqs.size, b))
    if b == 1:
        w[:, 0] = 1.0
        return w
    lo_f, hi_f = (centres[0], centres[-1]) if edges is None else (edges[0], edges[-1])
    fc = np.clip(freqs, lo_f, hi_f)
    pos = np.interp(fc, centres, np.arange(b, dtype=np.float64))
    pos = np.where(fc < centres[0], (fc - centres[0]) / (centres[1] - centres[0]), pos)
    pos = np.where(fc > centres[-1], b - 1 + (fc - centres[-1]) / (centres[-1] - centres[-2]), pos)
    lo = np.clip(np.floor(pos).astype(int), 0, b - 2)
    frac = pos - lo
    w[np.arange(freqs.size), lo] = 1.0 - frac
    w[np.arange(freqs.size), lo + 1] = frac
    return w


class ManifoldCalibration:
    """A measured array manifold: the :class:`Manifold` interface plus the angle-independent
    correction (``constant``, applied by cfr_extractor), the sweep table it was fitted to, the
    fit's cross-validation figures and the radio settings it is valid for.

    ``coef`` [B, M, n] complex: B-spline coefficients of r_m(theta, band b) = b_m / a_m on
    ``knots`` (degrees; r_0 = 1).
    """

    def __init__(
        self,
        *,
        num_elements: int,
        spacing_wavelengths: float,
        band_edges_hz: ArrayLike,
        basis: AngleBasis,
        angle_range_deg: tuple[float, float],
        coef: ArrayLike,
        constant,
        radio: dict | None = None,
        sweep: dict | None = None,
        fit: dict | None = None,
        created_utc: str = "",
    ) -> None:
        self.num_elements = int(num_elements)
        self.spacing_wavelengths = float(spacing_wavelengths)
        self.band_edges_hz = np.asarray(band_edges_hz, dtype=np.float64).ravel()
        self.basis = basis
        self.coef = np.asarray(coef, dtype=np.complex128)
        self.constant = constant
        self.radio = dict(radio or {})
        self.sweep = dict(sweep or {})
        self.fit = dict(fit or {})
        self.created_utc = created_utc
        m, b = self.num_elements, self.band_edges_hz.size - 1
        n = basis.n
        if m < 2:
            raise ManifoldError(f"num_elements must be >= 2, got {m}")
        if not (np.isfinite(self.spacing_wavelengths) and 0 < self.spacing_wavelengths <= 2):
            raise ManifoldError(f"spacing_wavelengths must be in (0, 2], got {spacing_wavelengths}")
        if b < 1 or not np.all(np.isfinite(self.band_edges_hz)):
            raise ManifoldError("band_edges_hz must hold at least two finite edges")
        if np.any(np.diff(self.band_edges_hz) <= 0):
            raise ManifoldError("band_edges_hz must increase")
        lo, hi = float(angle_range_deg[0]), float(angle_range_deg[1])
        if not (-90.0 <= lo < hi <= 90.0):
            raise ManifoldError(f"the manifold's angle range must lie in [-90, 90], got {lo}..{hi}")
        if self.coef.shape != (b, m, n):
            raise ManifoldError(f"coef must be [{b}, {m}, {n}], got {list(self.coef.shape)}")
        if not np.all(np.isfinite(self.coef)):
            raise ManifoldError("coef must be finite")
        if np.max(np.abs(self.coef)) > 1e3:
            raise ManifoldError("coef holds responses over 60 dB above element 0: not an array")
        if constant is not None and constant.num_elements != m:
            raise ManifoldError("the constant part is for another element count")
        self.angle_range_deg = (lo, hi)
        self._centres = band_centres(self.band_edges_hz)

    # ------------------------------------------------------------------ the interface
    def _freqs(self, freqs_hz: ArrayLike | None) -> NDArray[np.float64]:
        if freqs_hz is None:
            return self._centres
        f = np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64)).ravel()
        if not np.all(np.isfinite(f)):
            raise ValueError("frequencies must be finite")
        return f

    def response(
        self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None, derivative: int = 0
    ) -> NDArray[np.complex128]:
        """r(theta, f) = b / a (or its derivative per degree), [M, L, F]."""
        th = _angles(theta_deg)
        w = _freq_weights(self._centres, self._freqs(freqs_hz), self.band_edges_hz)  # [F, B]
        lo, hi = self.angle_range_deg
        basis = self.basis.matrix(np.clip(th, lo, hi), derivative)  # [L, n]
        r = np.einsum("ln,bmn->bml", basis, self.coef)  # [B, M, L]
        return np.einsum("fb,bml->mlf", w, r)

    def steering(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        th = _angles(theta_deg)
        a, _ = _nominal(self.num_elements, self.spacing_wavelengths, th)
        return a[:, :, None] * self.response(th, freqs_hz)

    def derivative(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        th = _angles(theta_deg)
        a, da = _nominal(self.num_elements, self.spacing_wavelengths, th)
        r = self.response(th, freqs_hz)
        dr = self.response(th, freqs_hz, derivative=1) * (180.0 / np.pi)
        inside = (th >= self.angle_range_deg[0]) & (th <= self.angle_range_deg[1])
        dr = dr * inside[None, :, None]
        return da[:, :, None] * r + a[:, :, None] * dr

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {
            "format": MANIFOLD_FORMAT,
            "num_elements": self.num_elements,
            "spacing_wavelengths": self.spacing_wavelengths,
            "angle_range_deg": list(self.angle_range_deg),
            "band_edges_hz": self.band_edges_hz.tolist(),
            "model": {
                **self.basis.to_dict(),
                "coef_re": self.coef.real.tolist(),
                "coef_im": self.coef.imag.tolist(),
            },
            "constant": None if self.constant is None else self.constant.to_dict(),
            "radio": self.radio,
            "fit": self.fit,
            "sweep": self.sweep,
            "created_utc": self.created_utc,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ManifoldCalibration:
        from .calibration import Calibration

        if not isinstance(d, dict) or d.get("format") != MANIFOLD_FORMAT:
            raise ManifoldError(f"not a manifold calibration (format must be {MANIFOLD_FORMAT!r})")
        try:
            model = d["model"]
            basis = basis_from_dict(model)
            rng = d["angle_range_deg"]
            if not (isinstance(rng, list) and len(rng) == 2):
                raise ManifoldError("angle_range_deg must be [lo, hi]")
            re = np.asarray(model["coef_re"], dtype=np.float64)
            im = np.asarray(model["coef_im"], dtype=np.float64)
            if re.shape != im.shape:
                raise ManifoldError("coef_re and coef_im differ in shape")
            const = d.get("constant")
            for key in ("radio", "fit", "sweep"):
                if not isinstance(d.get(key) or {}, dict):
                    raise ManifoldError(f"{key!r} must be an object")
            return cls(
                num_elements=int(d["num_elements"]),
                spacing_wavelengths=float(d["spacing_wavelengths"]),
                band_edges_hz=d["band_edges_hz"],
                basis=basis,
                angle_range_deg=(float(rng[0]), float(rng[1])),
                coef=re + 1j * im,
                constant=None if const is None else Calibration.from_dict(const),
                radio=d.get("radio") or {},
                sweep=d.get("sweep") or {},
                fit=d.get("fit") or {},
                created_utc=str(d.get("created_utc", "")),
            )
        except KeyError as exc:
            raise ManifoldError(f"manifold calibration lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ManifoldError):
                raise
            raise ManifoldError(f"malformed manifold calibration: {exc}") from None

    def save(self, path) -> None:
        import json
        import os
        import tempfile

        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".cal-", suffix=".json", dir=d)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


# ------------------------------------------------------------------ measurement


class SweepTable:
    """Per sweep angle and frequency band: the measured response r = v / a (v the principal
    eigenvector of that angle's band covariance, referred to element 0; a the nominal
    steering vector), its variance, the SNR and the principal-eigenvalue fraction."""

    def __init__(
        self,
        angles_deg: NDArray,
        band_edges_hz: NDArray,
        response: NDArray,
        variance: NDArray,
        snr_db: NDArray,
        principal_fraction: NDArray,
        occasions: NDArray,
    ) -> None:
        self.angles_deg = angles_deg  # [L]
        self.band_edges_hz = band_edges_hz  # [B + 1]
        self.response = response  # [L, B, M]
        self.variance = variance  # [L, B]
        self.snr_db = snr_db  # [L]
        self.principal_fraction = principal_fraction  # [L]
        self.occasions = occasions  # [L]


def default_band_edges(freqs_hz: ArrayLike, num_bands: int) -> NDArray[np.float64]:
    """``num_bands`` equal bands covering the CFR's subcarriers (half a spacing beyond the
    outermost ones)."""
    f = np.sort(np.asarray(freqs_hz, dtype=np.float64).ravel())
    df = float(np.median(np.diff(f))) if f.size > 1 else 1.0
    return np.linspace(f[0] - df / 2, f[-1] + df / 2, int(num_bands) + 1)


def measure_sweep(
    angles_deg: ArrayLike,
    cfrs_per_angle: list[NDArray],
    freqs_hz: ArrayLike,
    spacing_wavelengths: float,
    band_edges_hz: ArrayLike,
) -> SweepTable:
    """The measured steering vectors of a sweep: for each angle (its CFRs [N, M, S, K]) and
    band, the principal eigenvector of R = (1/n) sum h h^H over the occasions, SRS symbols
    and the band's subcarriers, referred to element 0 and divided by the nominal steering
    vector. Its variance per element follows the large-sample eigenvector perturbation
    (Anderson 1963): lambda_1 sigma^2 / (n (lambda_1 - sigma^2)^2) on each coordinate of the
    unit eigenvector, doubled by the division by element 0."""
    th = _angles(angles_deg)
    f = np.asarray(freqs_hz, dtype=np.float64).ravel()
    edges = np.asarray(band_edges_hz, dtype=np.float64)
    bands = band_index(edges, f)
    nb = edges.size - 1
    m = np.asarray(cfrs_per_angle[0]).shape[-3]
    resp = np.zeros((th.size, nb, m), np.complex128)
    var = np.zeros((th.size, nb))
    snr = np.zeros(th.size)
    frac = np.zeros(th.size)
    occ = np.zeros(th.size, int)
    for i, (h, ang) in enumerate(zip(cfrs_per_angle, th)):
        h = np.asarray(h)
        if h.ndim != 4 or h.shape[1] != m or h.shape[3] != f.size:
            raise ManifoldError(
                f"sweep angle {ang:g} deg: CFRs must be [N, {m}, S, {f.size}], got {h.shape}"
            )
        occ[i] = h.shape[0]
        a = steering_vector(m, spacing_wavelengths, float(ang))
        x = np.moveaxis(h, 1, -1).reshape(-1, f.size, m)  # [N*S, K, M]
        lam_all = np.zeros(m)
        for b in range(nb):
            sel = bands == b
            if not np.any(sel):
                raise ManifoldError(f"band {b} holds no subcarrier of the sweep")
            xb = x[:, sel, :].reshape(-1, m)
            n = xb.shape[0]
            r = xb.T @ xb.conj() / n
            w, v = np.linalg.eigh(r)
            lam_all += w[::-1]
            u = v[:, -1]
            if abs(u[0]) < 1e-6 * np.max(np.abs(u)):
                raise ManifoldError(f"sweep angle {ang:g} deg: no response on element 0")
            lam1 = w[-1]
            s2 = max(float(np.mean(w[:-1])), 1e-30 * lam1)
            resp[i, b] = (u / u[0]) / a
            gap = max(lam1 - s2, 1e-30)
            var[i, b] = 2.0 * lam1 * s2 / (n * gap**2) / abs(u[0]) ** 2
        s2 = max(float(np.mean(lam_all[1:])), 1e-30 * lam_all[0])
        snr[i] = 10 * np.log10(max(lam_all[0] - s2, 1e-30) / (m * s2))
        frac[i] = lam_all[0] / np.sum(lam_all)
    return SweepTable(th, edges, resp, var, snr, frac, occ)


# ------------------------------------------------------------------ P-spline fit


def _smoother(
    phi: NDArray, w: NDArray, pen: NDArray, lam: float
) -> tuple[NDArray, NDArray[np.float64]]:
    """(S [n, L], hat diagonal [L]) of the weighted penalised least-squares fit
    c = (Phi^H W Phi + lam P)^-1 Phi^H W y = S y."""
    pw = phi.conj().T * w[None, :]
    s = np.linalg.solve(pw @ phi + lam * pen, pw)
    return s, np.real(np.einsum("ln,nl->l", phi, s))


def _fit_basis(
    basis: AngleBasis, th: NDArray, resp: NDArray, var: NDArray, lambdas: NDArray
) -> tuple[NDArray, NDArray, float, list[dict]]:
    """Fit every band and element (but element 0, r_0 = 1) with the penalty weight of each
    element chosen by leave-one-angle-out cross-validation, exact for a linear smoother:
    e_i^(-i) = e_i / (1 - h_ii). Returns (coef [B, M, n], leave-one-out predictions
    [L, B, M], weighted CV sum, per-element report)."""
    nl, nb, m = resp.shape
    phi = basis.matrix(th)
    pen = basis.penalty()
    scale = np.real(np.trace(phi.conj().T @ phi)) / max(np.trace(pen), 1e-30)
    w_all = 1.0 / np.maximum(var, 1e-30)
    w_all = w_all / np.mean(w_all, axis=0, keepdims=True)
    # the end angles' leave-one-out predictions are extrapolations, which the manifold is
    # never used for: they do not score a model
    inner = np.ones(nl)
    if nl > 4:
        inner[[0, -1]] = 0.0
    ops = {}
    coef = np.zeros((nb, m, basis.n), np.complex128)
    coef[:, 0] = np.linalg.lstsq(phi, np.ones(nl), rcond=None)[0]
    loo = np.ones((nl, nb, m), np.complex128)
    total = 0.0
    info = []
    for e in range(1, m):
        best = None
        for lam in lambdas:
            cv = 0.0
            fits = []
            for b in range(nb):
                key = (float(lam), b)
                if key not in ops:
                    ops[key] = _smoother(phi, w_all[:, b], pen, lam * scale)
                sm, hd = ops[key]
                c = sm @ resp[:, b, e]
                e_loo = (resp[:, b, e] - phi @ c) / np.maximum(1.0 - hd, 1e-9)
                cv += float(np.sum(inner * w_all[:, b] * np.abs(e_loo) ** 2))
                fits.append((c, resp[:, b, e] - e_loo, float(np.sum(hd))))
            if best is None or cv < best[0]:
                best = (cv, lam, fits)
        cv, lam, fits = best
        total += cv
        for b, (c, pred, _) in enumerate(fits):
            coef[b, e] = c
            loo[:, b, e] = pred
        rel = np.abs(loo[:, :, e] - resp[:, :, e]) / np.maximum(np.abs(resp[:, :, e]), 1e-12)
        noise = np.sqrt(var) / np.maximum(np.abs(resp[:, :, e]), 1e-12)
        rel, noise = rel[inner > 0], noise[inner > 0]
        info.append(
            {
                "element": e,
                "lambda": float(lam),
                "effective_parameters": round(float(np.mean([f[2] for f in fits])), 2),
                "cv_rms_deg": float(np.rad2deg(np.sqrt(np.mean(rel**2)))),
                "noise_rms_deg": float(np.rad2deg(np.sqrt(np.mean(noise**2)))),
            }
        )
    return coef, loo, total, info


SPLINE_LAMBDAS = np.logspace(-6, 4, 21)
FOURIER_LAMBDAS = np.array([1e-9, 1e-6, 1e-3])
FOURIER_PERIODS = (1.25, 1.5, 2.0)  # times the swept span
FOURIER_ORDERS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 19, 22, 26, 30, 35, 40, 48, 56, 64)


def basis_candidates(th: NDArray) -> list[tuple[AngleBasis, NDArray]]:
    """The models cross-validation chooses from: a P-spline with knots at the sweep step, and
    Fourier extensions of several periods and orders (at most 0.9 L coefficients)."""
    lo, hi = float(th[0]), float(th[-1])
    step = float(np.median(np.diff(th)))
    out: list[tuple[AngleBasis, NDArray]] = [(SplineBasis.uniform(lo, hi, step), SPLINE_LAMBDAS)]
    span = hi - lo
    for per in FOURIER_PERIODS:
        for q in FOURIER_ORDERS:
            if 2 * q + 1 > 0.9 * th.size:
                break
            out.append((FourierBasis(0.5 * (lo + hi), per * span, q), FOURIER_LAMBDAS))
    return out


def fit_manifold(
    table: SweepTable, basis: AngleBasis | None = None, lambdas: ArrayLike | None = None
) -> tuple[AngleBasis, NDArray, dict, NDArray]:
    """Fit a sweep table: the basis (if not given) chosen among ``basis_candidates`` and the
    penalty weight of each element by leave-one-angle-out cross-validation. Returns (basis,
    coef [B, M, n], fit report, leave-one-out predictions [L, B, M])."""
    th = table.angles_deg
    if np.any(np.diff(th) <= 0):
        raise ManifoldError("sweep angles must be distinct and sorted")
    cands = (
        basis_candidates(th)
        if basis is None
        else [(basis, np.asarray(lambdas if lambdas is not None else SPLINE_LAMBDAS))]
    )
    best = None
    for bas, lams in cands:
        coef, loo, cv, info = _fit_basis(bas, th, table.response, table.variance, lams)
        if best is None or cv < best[0]:
            best = (cv, bas, coef, loo, info, lams)
    cv, bas, coef, loo, info, lams = best
    report = {
        "model": bas.kind,
        "model_parameters": bas.n,
        "candidates": len(cands),
        "elements": info,
        "cv_rms_deg": float(np.sqrt(np.mean([r["cv_rms_deg"] ** 2 for r in info]))),
        "noise_rms_deg": float(np.sqrt(np.mean([r["noise_rms_deg"] ** 2 for r in info]))),
        "lambdas": np.asarray(lams).tolist(),
    }
    return bas, coef, report, loo


# ------------------------------------------------------------------ the whole calibration


def _band_candidates(num_subcarriers: int, max_bands: int) -> list[int]:
    """1, 2, 4, ... bands, each band holding at least 12 subcarriers."""
    out = [1]
    while out[-1] * 2 <= max_bands and num_subcarriers // (out[-1] * 2) >= 12:
        out.append(out[-1] * 2)
    return out


def calibrate_sweep(
    angles_deg: ArrayLike,
    cfrs_per_angle: list[NDArray],
    freqs_hz: ArrayLike,
    spacing_wavelengths: float,
    *,
    bands: int | str = "auto",
    max_bands: int = 8,
    radio: dict | None = None,
    min_occasions: int = 1,
    progress=None,
    warn_gaps: bool = True,
) -> tuple[ManifoldCalibration, list[str]]:
    """Manifold calibration from a sweep: one CFR stack [N, M, S, K] per known angle.

    1. The angle-independent part (gain, phase, delay per element; what cfr_extractor
       applies) from all angles (``calibration.sweep_constant_part``), removed from the CFRs.
    2. Per angle and band, the measured response (``measure_sweep``).
    3. A P-spline per element and band, its smoothing chosen by leave-one-angle-out
       cross-validation (``fit_manifold``); with ``bands="auto"`` the number of bands (1, 2,
       4, ... ``max_bands``) is chosen by the same cross-validation against the finest band
       measurement, so the response is modelled per band only where it changes across the
       band by more than the measurement noise.

    Returns the calibration and the warnings (gaps unless ``warn_gaps`` is False, e.g. for
    angles held out on purpose; few occasions; a fit worse than the measurement noise);
    errors (too few angles, inconsistent shapes) raise ManifoldError.
    """
    from .calibration import sweep_constant_part, utc_now

    th = _angles(angles_deg)
    if len(cfrs_per_angle) != th.size:
        raise ManifoldError("one CFR stack per sweep angle is needed")
    if np.any(np.abs(th) >= 90):
        raise ManifoldError("sweep angles must lie in (-90, 90) deg")
    warnings: list[str] = []
    # duplicates: pool the occasions of an angle recorded more than once
    key = np.round(th, 6)
    uniq = np.unique(key)
    if uniq.size < th.size:
        dup = [float(u) for u in uniq if np.sum(key == u) > 1]
        warnings.append(
            f"{th.size - uniq.size} duplicate sweep angle(s) pooled: "
            + ", ".join(f"{d:g}" for d in dup[:10])
            + (" ..." if len(dup) > 10 else "")
            + " deg"
        )
        cfrs_per_angle = [
            np.concatenate([np.asarray(cfrs_per_angle[i]) for i in np.flatnonzero(key == u)])
            for u in uniq
        ]
        th = uniq.astype(np.float64)
    else:
        order = np.argsort(th)
        th = th[order]
        cfrs_per_angle = [cfrs_per_angle[i] for i in order]
    if th.size < 5:
        raise ManifoldError(
            f"a sweep needs at least 5 distinct angles to fit a manifold, got {th.size}"
        )
    occ = np.array([np.asarray(h).shape[0] for h in cfrs_per_angle])
    few = th[occ < min_occasions]
    if few.size:
        raise ManifoldError(
            f"{few.size} sweep angle(s) have fewer than {min_occasions} SRS occasions: "
            + ", ".join(f"{a:g}" for a in few[:10])
            + " deg"
        )
    steps = np.diff(th)
    med = float(np.median(steps))
    gaps = [(th[i], th[i + 1]) for i in np.flatnonzero(steps > 2.5 * med)]
    if gaps and warn_gaps:
        warnings.append(
            f"{len(gaps)} gap(s) in the sweep (step {med:g} deg): "
            + ", ".join(f"{a:g}..{b:g}" for a, b in gaps[:5])
            + " deg; the manifold is interpolated across them"
        )
    f = np.asarray(freqs_hz, dtype=np.float64).ravel()
    if progress:
        progress("angle-independent part")
    const = sweep_constant_part(cfrs_per_angle, th, f, spacing_wavelengths, radio=radio)
    c = const.multipliers(f)  # [M, K]
    corrected = [np.asarray(h) * c[None, :, None, :] for h in cfrs_per_angle]

    fine_b = _band_candidates(f.size, max_bands)
    if bands == "auto":
        candidates = fine_b
    else:
        nb = int(bands)
        if nb < 1 or f.size // nb < 4:
            raise ManifoldError(f"bands must be >= 1 with >= 4 subcarriers each, got {bands}")
        candidates = [nb]
    fine_edges = default_band_edges(f, candidates[-1] if bands == "auto" else candidates[0])
    if progress:
        progress(f"measuring {th.size} angles in {fine_edges.size - 1} band(s)")
    fine = measure_sweep(th, corrected, f, spacing_wavelengths, fine_edges)
    # the angle model on the full band (most SNR), then the number of bands with it
    full = measure_sweep(th, corrected, f, spacing_wavelengths, default_band_edges(f, 1))
    if progress:
        progress("choosing the angle model by cross-validation")
    basis, _, rep1, _ = fit_manifold(full)
    lams = np.asarray(rep1["lambdas"])
    best = None
    cv_by_bands = {}
    for nb in candidates:
        if progress:
            progress(f"fitting {nb} band(s)")
        edges = default_band_edges(f, nb)
        if nb == 1:
            table = full
        elif nb == fine_edges.size - 1:
            table = fine
        else:
            table = measure_sweep(th, corrected, f, spacing_wavelengths, edges)
        _, coef, rep, loo = fit_manifold(table, basis, lams)
        # leave-one-angle-out prediction at the finest bands' centres
        w = _freq_weights(band_centres(edges), band_centres(fine_edges))  # [Bf, B]
        pred = np.einsum("fb,lbm->lfm", w, loo)
        wt = 1.0 / np.maximum(fine.variance, 1e-30)
        wt = wt / np.mean(wt)
        wt[[0, -1]] = 0.0  # end angles: extrapolation (see _fit_basis)
        cv = float(np.sum(wt[:, :, None] * np.abs(pred[:, :, 1:] - fine.response[:, :, 1:]) ** 2))
        cv_by_bands[nb] = cv
        if best is None or cv < best[0]:
            best = (cv, nb, edges, table, coef, rep, loo)
    _, nb, edges, table, coef, rep, loo = best
    rep["bands"] = int(nb)
    low_cv = max(min(cv_by_bands.values()), 1e-300)
    rep["cv_by_bands"] = {str(k): round(v / low_cv, 4) for k, v in cv_by_bands.items()}
    # per-angle residual (deg) of the leave-one-out prediction: where the sweep is odd
    rel = np.abs(loo[:, :, 1:] - table.response[:, :, 1:]) / np.maximum(
        np.abs(table.response[:, :, 1:]), 1e-12
    )
    per_angle = np.rad2deg(np.sqrt(np.mean(rel**2, axis=(1, 2))))
    if rep["cv_rms_deg"] > max(2.0 * rep["noise_rms_deg"], 0.5):
        inner = per_angle.copy()
        inner[[0, -1]] = -1.0  # the end angles' held-out errors are extrapolations
        worst = np.argsort(inner)[::-1][:3]
        warnings.append(
            f"the manifold fit leaves {rep['cv_rms_deg']:.2f} deg rms on held-out angles, "
            f"{rep['cv_rms_deg'] / max(rep['noise_rms_deg'], 1e-9):.1f}x the measurement "
            "noise: worst at "
            + ", ".join(f"{th[i]:g} deg ({per_angle[i]:.2f} deg)" for i in worst)
            + " (reflections in the chamber, a wrong angle label, or a sweep too coarse for "
            "the array's ripple)"
        )
    low = th[table.snr_db < 0]
    if low.size:
        warnings.append(
            f"{low.size} sweep angle(s) below 0 dB SNR per RE: "
            + ", ".join(f"{a:g}" for a in low[:10])
        )
    sweep = {
        "angles_deg": th.tolist(),
        "occasions": occ.tolist(),
        "snr_db": np.round(table.snr_db, 3).tolist(),
        "principal_fraction": np.round(table.principal_fraction, 6).tolist(),
        "loo_residual_deg": np.round(per_angle, 4).tolist(),
        "response_re": table.response.real.tolist(),
        "response_im": table.response.imag.tolist(),
        "response_std": np.sqrt(table.variance).tolist(),
    }
    cal = ManifoldCalibration(
        num_elements=coef.shape[1],
        spacing_wavelengths=spacing_wavelengths,
        band_edges_hz=edges,
        basis=basis,
        angle_range_deg=(float(th[0]), float(th[-1])),
        coef=coef,
        constant=const,
        radio=radio,
        sweep=sweep,
        fit=rep,
        created_utc=utc_now(),
    )
    return cal, warnings


def load_calibration_file(path) -> tuple:
    """(constant, manifold) of a calibration JSON: a single-angle / splitter calibration gives
    (Calibration, None); a sweep calibration (``srsaoa calibrate --sweep``) gives its
    angle-independent part and the ManifoldCalibration. Errors name the file."""
    import os

    from .calibration import Calibration, CalibrationError, read_calibration_json

    d = read_calibration_json(path)
    if isinstance(d, dict) and d.get("format") == MANIFOLD_FORMAT:
        try:
            man = ManifoldCalibration.from_dict(d)
        except (ManifoldError, CalibrationError) as exc:
            raise CalibrationError(f"calibration file {os.fspath(path)!r}: {exc}") from None
        return man.constant, man
    try:
        return Calibration.from_dict(d), None
    except CalibrationError as exc:
        raise CalibrationError(f"calibration file {os.fspath(path)!r}: {exc}") from None


def group_by_angle(
    labels_deg: ArrayLike, cfrs: NDArray, decimals: int = 6
) -> tuple[NDArray[np.float64], list[NDArray]]:
    """Labelled CFRs [N, M, S, K] grouped per distinct angle (rounded to ``decimals``):
    the input of ``calibrate_sweep``."""
    lab = np.round(np.asarray(labels_deg, dtype=np.float64).ravel(), decimals)
    angles = np.unique(lab)
    return angles, [np.asarray(cfrs)[lab == a] for a in angles]


def manifold_parameter(calibration: object) -> Manifold | None:
    """The manifold of a block's ``calibration`` parameter: None for '' or a single-angle
    calibration (nothing angle-dependent), the ManifoldCalibration of a sweep file; a
    ValueError with the reason for anything unusable (the blocks' constructors raise it)."""
    if not isinstance(calibration, str):
        raise ValueError(f"calibration must be a path string ('' = none), got {calibration!r}")
    if not calibration.strip():
        return None
    try:
        return load_calibration_file(calibration)[1]
    except (ValueError, OSError) as exc:
        raise ValueError(str(exc)) from None
