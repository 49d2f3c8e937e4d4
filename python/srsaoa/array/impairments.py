"""Hardware impairment models of the receive array.

The actual array manifold of an impaired ULA, for a plane wave from ``theta`` at baseband
frequency ``f`` (Hz, relative to the carrier), is

    b(theta, f) = C @ (g * gamma(theta, f) * a(theta, f; x + dx))

with, per element m (0-based, element 0 is the phase reference):

- ``g_m = 10^(gain_db_m/20) * exp(j phase_deg_m)``: constant per-channel gain and phase mismatch
  (Spanos et al. eqs 13-14: gain_db ~ U(-G, G) dB, phase ~ U(-P, P) degrees; G = 0.7 dB and
  P = 15 degrees in their Section IV);
- ``C``: the symmetric Toeplitz mutual-coupling matrix (Spanos eqs 10-11), C[m, n] = c_|m-n|,
  c_0 = 1 (intrinsic terms), and for p >= 1 the Friis-based amplitude of eq 15 with
  omnidirectional elements, |c_p| = sqrt(G_m G_n) lambda / (4 pi p d) = lambda / (4 pi p d),
  and a zero-mean Gaussian phase (the paper's replacement for eq 16-17);
- ``x + dx``: element position errors along the array axis (MoD-DNN eq 6, A(theta, d + dd));
- ``gamma_m(theta, f) = exp(j rho psi_m(theta, f))``: the angle- and frequency-dependent phase
  error of MoD-DNN eq 7, weighted by rho as in its eq 34 (DESIGN section 3: rho scales the
  phase; rho = 0 is an ideal array). psi has the shape measured in MoD-DNN Fig. 1b: a bounded
  ripple (two sinusoids in theta, |psi| < ~20 deg inside +-30 deg) plus a constant slope
  beyond a knee at +-30 deg (smoothed by a softplus of width ``width_deg``), and a linear
  frequency dependence across the band:

      psi_m(theta, f) = (1 + eps_m f / f_ref) * [ a1 sin(2 pi theta / p1 + f1)
                        + a2 sin(2 pi theta / p2 + f2)
                        + s_pos W softplus((theta - knee) / W)
                        + s_neg W softplus((-theta - knee) / W) ]      (degrees)

  with psi_0 = 0 (element 0 is the reference, as in Fig. 1b).

``steering = "narrowband"`` uses a(theta) at the carrier (DESIGN section 3);
``"wideband"`` uses the exact per-frequency phase 2 pi x_m (fc + f) / c sin(theta)
(MoD-DNN eq 1).

:meth:`ImpairmentProfile.response` is b / a_ideal, the per-element factor that multiplies the
ideal (narrowband, nominal-position) steering vector.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import toeplitz

from .geometry import SPEED_OF_LIGHT, ULA

PSI_MODEL = "srsaoa-psi-v1"
STEERING_MODES = ("narrowband", "wideband")


def _softplus(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.logaddexp(0.0, x)


def friis_coupling_amplitude(lag: int, spacing_wavelengths: float) -> float:
    """Spanos eq 15 with unit element gains: |c| = lambda / (4 pi * lag * d)."""
    if lag < 1:
        raise ValueError("lag must be >= 1")
    return 1.0 / (4.0 * np.pi * lag * spacing_wavelengths)


@dataclass
class PsiModel:
    """Per-element parameters of the angle-dependent phase error psi_m(theta, f) (degrees)."""

    knee_deg: float = 30.0
    width_deg: float = 3.0
    f_ref_hz: float = 10e6
    elements: list[dict[str, float]] = field(default_factory=list)

    KEYS = ("a1", "a2", "p1", "p2", "f1", "f2", "s_pos", "s_neg", "eps")

    def psi_deg(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        """psi in degrees, shape [M, L, K] for L angles and K frequencies (0 Hz if None)."""
        th = np.atleast_1d(np.asarray(theta_deg, dtype=np.float64))
        f = np.atleast_1d(np.asarray(0.0 if freqs_hz is None else freqs_hz, dtype=np.float64))
        out = np.zeros((len(self.elements), th.size, f.size))
        w = float(self.width_deg)
        for m, e in enumerate(self.elements):
            base = (
                e["a1"] * np.sin(2 * np.pi * th / e["p1"] + e["f1"])
                + e["a2"] * np.sin(2 * np.pi * th / e["p2"] + e["f2"])
                + e["s_pos"] * w * _softplus((th - self.knee_deg) / w)
                + e["s_neg"] * w * _softplus((-th - self.knee_deg) / w)
            )
            out[m] = np.outer(base, 1.0 + e["eps"] * f / self.f_ref_hz)
        return out

    def to_dict(self) -> dict:
        return {
            "model": PSI_MODEL,
            "knee_deg": float(self.knee_deg),
            "width_deg": float(self.width_deg),
            "f_ref_hz": float(self.f_ref_hz),
            "elements": [{k: float(e[k]) for k in self.KEYS} for e in self.elements],
        }

    @classmethod
    def from_dict(cls, d: dict) -> PsiModel:
        model = d.get("model", PSI_MODEL)
        if model not in (PSI_MODEL, "srsoracle-psi-v1"):
            raise ValueError(f"unknown psi model {model!r}")
        elements = []
        for e in d.get("elements", []):
            missing = [k for k in cls.KEYS if k not in e]
            if missing:
                raise ValueError(f"psi element is missing {missing}")
            if e["p1"] == 0 or e["p2"] == 0:
                raise ValueError("psi periods p1, p2 must be non-zero")
            elements.append({k: float(e[k]) for k in cls.KEYS})
        return cls(
            knee_deg=float(d.get("knee_deg", 30.0)),
            width_deg=float(d.get("width_deg", 3.0)),
            f_ref_hz=float(d.get("f_ref_hz", 10e6)),
            elements=elements,
        )

    @classmethod
    def zeros(cls, m: int) -> PsiModel:
        return cls(elements=[_zero_psi_element() for _ in range(m)])

    @classmethod
    def random(
        cls,
        m: int,
        rng: np.random.Generator,
        ripple_deg: float = 6.0,
        slope_deg_per_deg: tuple[float, float] = (0.4, 1.0),
        freq_eps: float = 0.1,
    ) -> PsiModel:
        """Random psi with the Fig. 1b shape: ripple amplitudes a1, a2 ~ U(ripple/2, ripple)
        (so |psi| < 2 ripple = 12 deg inside +-30 deg), periods p1 ~ U(40, 90) deg,
        p2 ~ U(18, 30) deg, slopes |s| ~ U(slope) deg/deg of random sign beyond the knee,
        frequency factor eps ~ U(-freq_eps, freq_eps) per f_ref = 10 MHz."""
        els = [_zero_psi_element()]
        for _ in range(1, m):
            lo, hi = slope_deg_per_deg
            els.append(
                {
                    "a1": float(rng.uniform(ripple_deg / 2, ripple_deg)),
                    "a2": float(rng.uniform(ripple_deg / 2, ripple_deg)),
                    "p1": float(rng.uniform(40.0, 90.0)),
                    "p2": float(rng.uniform(18.0, 30.0)),
                    "f1": float(rng.uniform(0, 2 * np.pi)),
                    "f2": float(rng.uniform(0, 2 * np.pi)),
                    "s_pos": float(rng.choice([-1, 1]) * rng.uniform(lo, hi)),
                    "s_neg": float(rng.choice([-1, 1]) * rng.uniform(lo, hi)),
                    "eps": float(rng.uniform(-freq_eps, freq_eps)),
                }
            )
        return cls(elements=els)


def _zero_psi_element() -> dict[str, float]:
    return {
        "a1": 0.0,
        "a2": 0.0,
        "p1": 60.0,
        "p2": 20.0,
        "f1": 0.0,
        "f2": 0.0,
        "s_pos": 0.0,
        "s_neg": 0.0,
        "eps": 0.0,
    }


@dataclass
class ImpairmentProfile:
    """A named, seeded, saveable set of array impairments for an M-element ULA.

    Each component is switched off by its neutral value (gain 0 dB, phase 0, coupling
    [1, 0, ...], position error 0, rho 0). ``manifold`` gives the actual array response,
    ``response`` the factor on the ideal steering vector.
    """

    num_elements: int = 4
    name: str = "ideal"
    seed: int | None = None
    gain_db: list[float] | None = None
    phase_deg: list[float] | None = None
    coupling: list[complex] | None = None
    position_error_m: list[float] | None = None
    psi: PsiModel | None = None
    rho: float = 0.0
    steering: str = "narrowband"
    spec: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        m = int(self.num_elements)
        if m < 2 or m != self.num_elements:
            raise ValueError(f"num_elements must be an integer >= 2, got {self.num_elements}")
        self.num_elements = m
        self.gain_db = _vec(self.gain_db, m, 0.0, "gain_db")
        self.phase_deg = _vec(self.phase_deg, m, 0.0, "phase_deg")
        self.position_error_m = _vec(self.position_error_m, m, 0.0, "position_error_m")
        c = [1.0 + 0j] + [0j] * (m - 1) if self.coupling is None else list(self.coupling)
        if len(c) != m:
            raise ValueError(f"coupling must have {m} entries (first row of C), got {len(c)}")
        self.coupling = [complex(v) for v in c]
        if not np.all(np.isfinite(self.coupling)):
            raise ValueError("coupling must be finite")
        if self.psi is None:
            self.psi = PsiModel.zeros(m)
        if len(self.psi.elements) != m:
            raise ValueError(f"psi has {len(self.psi.elements)} elements, expected {m}")
        if not np.isfinite(self.rho) or self.rho < 0:
            raise ValueError(f"rho must be >= 0, got {self.rho}")
        self.rho = float(self.rho)
        if self.steering not in STEERING_MODES:
            raise ValueError(f"steering must be one of {STEERING_MODES}, got {self.steering!r}")

    # ------------------------------------------------------------------ model pieces
    @property
    def channel_gains(self) -> NDArray[np.complex128]:
        """g_m = 10^(gain_db/20) exp(j phase) (Spanos eqs 13-14), [M]."""
        return 10 ** (np.asarray(self.gain_db) / 20) * np.exp(1j * np.deg2rad(self.phase_deg))

    @property
    def coupling_matrix(self) -> NDArray[np.complex128]:
        """Symmetric Toeplitz C (Spanos eq 11), [M, M]."""
        c = np.asarray(self.coupling, dtype=np.complex128)
        return toeplitz(c, c)

    def psi_deg(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        """Unweighted angle-dependent phase error psi_m(theta, f) in degrees, [M, L, K]."""
        return self.psi.psi_deg(theta_deg, freqs_hz)

    def gamma(self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None) -> NDArray:
        """gamma_m,k(theta) = exp(j rho psi) (MoD-DNN eqs 7, 34), [M, L, K]."""
        return np.exp(1j * self.rho * np.deg2rad(self.psi_deg(theta_deg, freqs_hz)))

    def manifold(
        self, ula: ULA, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None
    ) -> NDArray[np.complex128]:
        """Actual array response b(theta, f), [M, K] for a scalar angle or [M, L, K] for L angles;
        [M] / [M, L] when ``freqs_hz`` is None (at the carrier)."""
        if ula.num_elements != self.num_elements:
            raise ValueError(
                f"profile is for {self.num_elements} elements, the array has {ula.num_elements}"
            )
        scalar_theta = np.ndim(theta_deg) == 0
        no_freq = freqs_hz is None
        th = np.atleast_1d(np.asarray(theta_deg, dtype=np.float64))
        f = np.atleast_1d(np.asarray(0.0 if no_freq else freqs_hz, dtype=np.float64))
        x = ula.positions_m + np.asarray(self.position_error_m)  # [M]
        s = np.sin(np.deg2rad(th))  # [L]
        if self.steering == "wideband":
            fabs = ula.carrier_frequency_hz + f  # [K]
        else:
            fabs = np.full_like(f, ula.carrier_frequency_hz)
        phase = 2 * np.pi * x[:, None, None] * s[None, :, None] * fabs[None, None, :]
        a = np.exp(1j * phase / SPEED_OF_LIGHT)  # [M, L, K]
        b = self.channel_gains[:, None, None] * self.gamma(th, f) * a
        b = np.einsum("mn,nlk->mlk", self.coupling_matrix, b)
        if no_freq:
            b = b[:, :, 0]
            return b[:, 0] if scalar_theta else b
        return b[:, 0, :] if scalar_theta else b

    def response(
        self, theta_deg: ArrayLike, freqs_hz: ArrayLike | None = None, ula: ULA | None = None
    ) -> NDArray[np.complex128]:
        """b(theta, f) / a(theta): the factor on the ideal steering vector ([M, K] or [M])."""
        if ula is None:
            ula = ULA(num_elements=self.num_elements)
        b = self.manifold(ula, theta_deg, freqs_hz)
        a = ula.steering(theta_deg)
        if b.ndim == a.ndim:
            return b / a
        return b / a[..., None]

    @property
    def is_ideal(self) -> bool:
        return (
            not np.any(self.gain_db)
            and not np.any(self.phase_deg)
            and not np.any(self.position_error_m)
            and np.allclose(self.coupling, [1] + [0] * (self.num_elements - 1), atol=0)
            and (
                self.rho == 0
                or all(
                    not any(e[k] for k in ("a1", "a2", "s_pos", "s_neg")) for e in self.psi.elements
                )
            )
            and self.steering == "narrowband"
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def ideal(cls, num_elements: int = 4, steering: str = "narrowband") -> ImpairmentProfile:
        return cls(num_elements=num_elements, name="ideal", steering=steering)

    @classmethod
    def random(
        cls,
        num_elements: int = 4,
        seed: int = 0,
        *,
        name: str | None = None,
        spacing_wavelengths: float = 0.5,
        gain_db_max: float = 0.7,
        phase_deg_max: float = 15.0,
        coupling: bool = True,
        coupling_phase_std_deg: float = 10.0,
        position_std_m: float = 0.0,
        psi: bool = True,
        rho: float = 1.0,
        psi_ripple_deg: float = 6.0,
        psi_slope_deg_per_deg: tuple[float, float] = (0.4, 1.0),
        psi_freq_eps: float = 0.1,
        steering: str = "narrowband",
    ) -> ImpairmentProfile:
        """Draw a profile from ``seed``; every component can be switched off (0 / False).

        gain_db_m ~ U(-gain_db_max, gain_db_max), phase_deg_m ~ U(-phase_deg_max,
        phase_deg_max) (Spanos eqs 13-14); coupling per Spanos eq 15 (Friis amplitude at
        ``spacing_wavelengths``) with N(0, coupling_phase_std_deg^2) phase; element position
        error dx_m ~ N(0, position_std_m^2) for m >= 1 (dx_0 = 0); psi per :class:`PsiModel`.
        """
        m = int(num_elements)
        for nm, v in (
            ("gain_db_max", gain_db_max),
            ("phase_deg_max", phase_deg_max),
            ("coupling_phase_std_deg", coupling_phase_std_deg),
            ("position_std_m", position_std_m),
            ("spacing_wavelengths", spacing_wavelengths),
        ):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{nm} must be >= 0, got {v}")
        spec = {
            "generator": "ImpairmentProfile.random",
            "spacing_wavelengths": spacing_wavelengths,
            "gain_db_max": gain_db_max,
            "phase_deg_max": phase_deg_max,
            "coupling": bool(coupling),
            "coupling_phase_std_deg": coupling_phase_std_deg,
            "position_std_m": position_std_m,
            "psi": bool(psi),
            "psi_ripple_deg": psi_ripple_deg,
            "psi_slope_deg_per_deg": list(psi_slope_deg_per_deg),
            "psi_freq_eps": psi_freq_eps,
        }
        # One independent stream per component, so switching one off does not change the others.
        ss = np.random.SeedSequence(int(seed))
        r_gain, r_phase, r_coup, r_pos, r_psi = (np.random.default_rng(s) for s in ss.spawn(5))
        gain = r_gain.uniform(-gain_db_max, gain_db_max, m)
        phase = r_phase.uniform(-phase_deg_max, phase_deg_max, m)
        c = [1.0 + 0j]
        cphase = r_coup.normal(0.0, np.deg2rad(coupling_phase_std_deg), m - 1)
        for p in range(1, m):
            if coupling and spacing_wavelengths > 0:
                amp = friis_coupling_amplitude(p, spacing_wavelengths)
                c.append(complex(amp * np.exp(1j * cphase[p - 1])))
            else:
                c.append(0j)
        pos = np.concatenate([[0.0], r_pos.normal(0.0, position_std_m, m - 1)])
        psi_model = (
            PsiModel.random(m, r_psi, psi_ripple_deg, psi_slope_deg_per_deg, psi_freq_eps)
            if psi
            else PsiModel.zeros(m)
        )
        return cls(
            num_elements=m,
            name=name or f"random-{seed}",
            seed=int(seed),
            gain_db=gain.tolist(),
            phase_deg=phase.tolist(),
            coupling=c,
            position_error_m=pos.tolist(),
            psi=psi_model,
            rho=float(rho) if psi else 0.0,
            steering=steering,
            spec=spec,
        )

    @classmethod
    def default(
        cls, seed: int = 2024, rho: float = 1.0, num_elements: int = 4
    ) -> ImpairmentProfile:
        """THE project's "default impaired gNB array": a 4-element half-wavelength ULA with
        Spanos gain/phase mismatch (0.7 dB, 15 deg), Friis coupling (10 deg phase spread),
        1 mm position errors and the Fig. 1b angle-dependent phase error weighted by rho."""
        p = cls.random(
            num_elements,
            seed,
            name=f"default-gnb-{seed}",
            position_std_m=1e-3,
            rho=rho,
        )
        p.spec["generator"] = "ImpairmentProfile.default"
        return p

    # ------------------------------------------------------------------ persistence
    def with_rho(self, rho: float) -> ImpairmentProfile:
        d = self.to_dict()
        d["rho"] = float(rho)
        return ImpairmentProfile.from_dict(d)

    def to_dict(self) -> dict:
        c = np.asarray(self.coupling, dtype=np.complex128)
        return {
            "name": self.name,
            "seed": self.seed,
            "num_elements": self.num_elements,
            "gain_db": [float(v) for v in self.gain_db],
            "phase_deg": [float(v) for v in self.phase_deg],
            "coupling": [[float(v.real), float(v.imag)] for v in c],
            "position_error_m": [float(v) for v in self.position_error_m],
            "rho": self.rho,
            "steering": self.steering,
            "psi": self.psi.to_dict(),
            "spec": json.loads(json.dumps(self.spec)),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ImpairmentProfile:
        if not isinstance(d, dict):
            raise ValueError("impairment profile must be a dict")
        if "generator" in d and "num_elements" not in d:
            # a generator spec: {"generator": "default"|"random", "seed": .., ...}
            return profile_from_spec(d)
        m = int(d.get("num_elements", len(d.get("gain_db", [])) or 4))
        coupling = d.get("coupling")
        if coupling is not None:
            coupling = [
                complex(v[0], v[1]) if isinstance(v, (list, tuple)) else complex(v)
                for v in coupling
            ]
        return cls(
            num_elements=m,
            name=str(d.get("name", "profile")),
            seed=d.get("seed"),
            gain_db=d.get("gain_db"),
            phase_deg=d.get("phase_deg"),
            coupling=coupling,
            position_error_m=d.get("position_error_m"),
            psi=PsiModel.from_dict(d["psi"]) if d.get("psi") else None,
            rho=float(d.get("rho", 0.0)),
            steering=str(d.get("steering", "narrowband")),
            spec=dict(d.get("spec", {})),
        )

    def save(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2))
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImpairmentProfile:
        p = Path(path)
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not a valid impairment profile JSON ({exc.msg})") from exc
        return cls.from_dict(d)


def profile_from_spec(
    spec: dict | str | None, num_elements: int = 4, spacing_wavelengths: float = 0.5
) -> ImpairmentProfile:
    """An ImpairmentProfile from a scenario's ``impairments`` entry.

    Accepted: None / "ideal"; "default" (the default impaired gNB array); a saved profile
    path (``*.json``); a full profile dict (``to_dict``); or a generator dict
    ``{"generator": "default"|"random", "seed": .., "rho": .., <random() keyword>: ..}``.
    """
    if spec is None or spec == "ideal":
        return ImpairmentProfile.ideal(num_elements)
    if spec == "default":
        return ImpairmentProfile.default(num_elements=num_elements)
    if isinstance(spec, str):
        return ImpairmentProfile.load(spec)
    if not isinstance(spec, dict):
        raise ValueError(f"impairments must be 'ideal', 'default', a path or a dict, got {spec!r}")
    if "generator" not in spec:
        return ImpairmentProfile.from_dict({"num_elements": num_elements, **spec})
    d = dict(spec)
    gen = d.pop("generator")
    d.pop("spec", None)
    seed = int(d.pop("seed", 2024))
    m = int(d.pop("num_elements", num_elements))
    if gen in ("default", "ImpairmentProfile.default"):
        unknown = set(d) - {"rho"}
        if unknown:
            raise ValueError(f"unknown keys for the default profile: {sorted(unknown)}")
        return ImpairmentProfile.default(seed=seed, rho=float(d.get("rho", 1.0)), num_elements=m)
    if gen in ("random", "ImpairmentProfile.random"):
        d.setdefault("spacing_wavelengths", spacing_wavelengths)
        if "psi_slope_deg_per_deg" in d:
            d["psi_slope_deg_per_deg"] = tuple(d["psi_slope_deg_per_deg"])
        try:
            return ImpairmentProfile.random(m, seed, **d)
        except TypeError as exc:
            raise ValueError(f"bad impairment generator keys: {exc}") from exc
    raise ValueError(f"unknown impairment generator {gen!r} (use 'default' or 'random')")


def _vec(v: Any, m: int, fill: float, name: str) -> list[float]:
    if v is None:
        return [fill] * m
    arr = np.asarray(v, dtype=np.float64).ravel()
    if arr.size != m:
        raise ValueError(f"{name} must have {m} entries, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr.tolist()
