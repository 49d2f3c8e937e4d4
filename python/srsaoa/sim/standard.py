"""3GPP TR 38.901 channels for the gNB's horizontal ULA and a single-antenna UE.

Three families, all seeded through a ``numpy.random.Generator``:

- **CDL-A .. CDL-E** (7.7.1): the tabulated clusters, delays scaled by the desired delay spread
  (7.7.3, tau_n = tau_n,norm DS), rays at cluster angle + c_AS alpha_m (Table 7.5-3), optional
  angle scaling of the gNB-side azimuths to a desired rms spread (7.7.5.1, Annex A spread)
  and K-factor change of CDL-D/E (7.7.6), random ray coupling and phases.
- **TDL-A .. TDL-E** (7.7.2): the tabulated taps, scaled delays; every Rayleigh tap is a sum of
  20 equal rays with random phases and uniformly spread UE-side azimuths (Clarke/Jakes), the
  LOS tap of TDL-D/E one ray. A TDL has no angles: at the array every tap arrives from the
  UE's direction (a point source with delay dispersion).
- **UMi, UMa, RMa, InH, InF** (7.5, steps 1-11, single link): LOS probability (7.4.2) unless
  LOS is forced, correlated large-scale parameters (DS, ASD, ASA, ZSD, ZSA, K), exponential
  cluster delays with LOS scaling, cluster powers with per-cluster shadowing and the -25 dB
  cut, azimuth and zenith angles of both ends (C_phi, C_theta with the K polynomials), rays,
  random coupling, random phases, the two strongest clusters split into three sub-clusters,
  the LOS ray with power K_R / (K_R + 1). Path loss, shadow fading (step 3) and polarisation
  (step 9: single vertically polarised elements at both ends, so XPR does not enter) are left
  out: the simulator sets the SNR per resource element directly. No spatial consistency:
  every draw is an independent link.

Geometry and angle convention. The gNB sits at the origin with its array horizontal; the array
axis is the GCS y axis, so broadside is azimuth 0 and azimuth is counter-clockwise from
broadside (positive towards increasing element index, DESIGN section 3). A ray leaving the
gNB towards azimuth phi and zenith theta (deg from the vertical, 90 = horizontal, > 90 looking
down) has the unit vector (sin theta cos phi, sin theta sin phi, cos theta), and the ULA sees
it at the cone angle

    sin(AoA_ula) = sin(theta) sin(phi) = cos(elevation) sin(azimuth - broadside).

A ray from behind the array (|phi| > 90) folds onto the front; the 3GPP sector element
pattern (7.3, Table 7.3-1: 65 deg beam widths, 30 dB front-to-back, no tilt by default)
attenuates it, ``element_pattern: omni`` does not. The UE's LOS direction is given as the
cone angle ``los_aoa_deg`` (what the estimators measure); its azimuth follows from the LOS
zenith angle theta_LOS,ZOD = 90 + atan((h_BS - h_UT) / d_2D). BS-side (TR "departure")
parameters describe the gNB: the uplink arrives where the downlink departs.

Powers: each draw's ray powers sum to 1 after the element pattern (the SNR of DESIGN section 3
refers to the total received power); ``ChannelDraw.clusters`` keeps the model's cluster powers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..array.geometry import SPEED_OF_LIGHT, ULA
from . import tr38901 as T
from .channel import Path

CDL_MODELS = tuple(T.CDL_TABLES)
TDL_MODELS = tuple(T.TDL_TABLES)
MODELS = (*T.STOCHASTIC_MODELS, *CDL_MODELS, *TDL_MODELS)
PATTERNS = ("3gpp", "omni")
MAX_ULA_DEG = 89.9  # cone angles are clipped to (-90, 90) exclusive (sim.Path)

SPEC_KEYS = (
    "model",
    "los",
    "distance_m",
    "bs_height_m",
    "ue_height_m",
    "delay_spread_s",
    "angle_spread_deg",
    "k_factor_db",
    "element_pattern",
    "tilt_deg",
    "ue_speed_mps",
    "ue_direction_deg",
    "redraw",
    "subscenario",
    "office",
    "volume_m3",
    "surface_m2",
)
DEFAULT_DELAY_SPREAD_S = 100e-9  # Table 7.7.3-1 "nominal"


# --------------------------------------------------------------------------- helpers


def ula_angle_deg(azimuth_deg: ArrayLike, zenith_deg: ArrayLike) -> NDArray[np.float64]:
    """Cone angle seen by the horizontal ULA: asin(sin(zenith) sin(azimuth)), deg, clipped to
    +-89.9 deg (the module docstring's convention)."""
    s = np.sin(np.deg2rad(zenith_deg)) * np.sin(np.deg2rad(azimuth_deg))
    return np.clip(np.rad2deg(np.arcsin(np.clip(s, -1.0, 1.0))), -MAX_ULA_DEG, MAX_ULA_DEG)


def element_gain_db(
    azimuth_deg: ArrayLike, zenith_deg: ArrayLike, pattern: str = "3gpp", tilt_deg: float = 0.0
) -> NDArray[np.float64]:
    """Table 7.3-1 element power pattern relative to its maximum (dB): vertical and horizontal
    cuts with 65 deg half-power beam widths, 30 dB side-lobe / front-to-back limits; the
    mechanical ``tilt_deg`` (positive = down) moves the vertical cut. ``omni``: 0 dB."""
    az = np.asarray(azimuth_deg, dtype=np.float64)
    ze = np.asarray(zenith_deg, dtype=np.float64)
    if pattern == "omni":
        return np.zeros(np.broadcast(az, ze).shape)
    if pattern != "3gpp":
        raise ValueError(f"element_pattern must be one of {PATTERNS}, got {pattern!r}")
    phi = (az + 180.0) % 360.0 - 180.0
    a_v = -np.minimum(12.0 * ((ze - 90.0 - tilt_deg) / 65.0) ** 2, 30.0)
    a_h = -np.minimum(12.0 * (phi / 65.0) ** 2, 30.0)
    return -np.minimum(-(a_v + a_h), 30.0)


def circular_spread_deg(angles_deg: ArrayLike, powers: ArrayLike) -> tuple[float, float]:
    """Annex A.1 (eq. A-1): rms angle spread sqrt(-2 ln |sum p e^{j phi}|) and the mean angle
    arg(sum p e^{j phi}), both in degrees, for linear powers p."""
    p = np.asarray(powers, dtype=np.float64)
    z = np.sum(p * np.exp(1j * np.deg2rad(angles_deg))) / np.sum(p)
    r = min(abs(z), 1.0)
    return float(np.rad2deg(np.sqrt(-2.0 * np.log(max(r, 1e-300))))), float(np.angle(z, deg=True))


def rms_delay_spread(delays_s: ArrayLike, powers: ArrayLike) -> float:
    """Power-weighted rms delay spread (s)."""
    p = np.asarray(powers, dtype=np.float64)
    t = np.asarray(delays_s, dtype=np.float64)
    m = np.sum(p * t) / np.sum(p)
    return float(np.sqrt(max(np.sum(p * (t - m) ** 2) / np.sum(p), 0.0)))


def _wrap180(a: NDArray) -> NDArray:
    return (np.asarray(a, dtype=np.float64) + 180.0) % 360.0 - 180.0


def _fold_zenith(z: NDArray) -> NDArray:
    z = np.mod(np.asarray(z, dtype=np.float64), 360.0)
    return np.where(z > 180.0, 360.0 - z, z)


def los_azimuth_deg(los_aoa_deg: float, los_zenith_deg: float) -> float:
    """Azimuth (deg from broadside) whose cone angle at ``los_zenith_deg`` is ``los_aoa_deg``."""
    s = math.sin(math.radians(los_aoa_deg)) / math.sin(math.radians(los_zenith_deg))
    if abs(s) > 1.0:
        raise ValueError(
            f"a UE seen {90 - los_zenith_deg:+.1f} deg above the horizon cannot appear at "
            f"{los_aoa_deg:g} deg from broadside (largest: "
            f"{math.degrees(math.asin(math.sin(math.radians(los_zenith_deg)))):.1f} deg)"
        )
    return math.degrees(math.asin(s))


# --------------------------------------------------------------------------- the draw


@dataclass
class ChannelDraw:
    """One realisation: rays (gNB and UE side angles, delays, powers, phases) and clusters.

    Ray arrays have one entry per ray; ``ray_cluster`` is the cluster index (-1: the LOS ray).
    ``ray_power`` are the model's linear powers (sum 1, before the element pattern).
    ``clusters``: per cluster ``delay_s``, ``power`` (linear, model, LOS ray excluded),
    ``azimuth_deg``, ``zenith_deg`` (gNB side). ``lsp``: the large-scale parameters of the
    draw (DS in s, spreads in deg, K in dB; None where the model has none).
    """

    model: str
    los: bool
    los_azimuth_deg: float
    los_zenith_deg: float
    ray_azimuth_deg: NDArray[np.float64]
    ray_zenith_deg: NDArray[np.float64]
    ray_delay_s: NDArray[np.float64]
    ray_power: NDArray[np.float64]
    ray_phase_rad: NDArray[np.float64]
    ray_cluster: NDArray[np.int64]
    ray_ue_azimuth_deg: NDArray[np.float64]
    ray_ue_zenith_deg: NDArray[np.float64]
    clusters: dict[str, NDArray[np.float64]]
    lsp: dict[str, Any] = field(default_factory=dict)

    @property
    def los_aoa_deg(self) -> float:
        return float(ula_angle_deg(self.los_azimuth_deg, self.los_zenith_deg))

    @property
    def num_rays(self) -> int:
        return int(self.ray_delay_s.size)

    def ray_ula_deg(self) -> NDArray[np.float64]:
        return ula_angle_deg(self.ray_azimuth_deg, self.ray_zenith_deg)

    def received_powers(self, pattern: str = "3gpp", tilt_deg: float = 0.0) -> NDArray:
        """Ray powers after the gNB element pattern, normalised to sum 1."""
        g = 10 ** (
            element_gain_db(self.ray_azimuth_deg, self.ray_zenith_deg, pattern, tilt_deg) / 10
        )
        p = self.ray_power * g
        return p / np.sum(p)

    def doppler_hz(self, speed_mps: float, direction_deg: float, wavelength_m: float) -> NDArray:
        """Ray Doppler shifts (7.5-31 with a horizontal UE velocity; UE-side angles)."""
        if speed_mps == 0.0:
            return np.zeros(self.num_rays)
        ze = np.deg2rad(self.ray_ue_zenith_deg)
        az = np.deg2rad(self.ray_ue_azimuth_deg)
        v = np.deg2rad(direction_deg)
        return speed_mps / wavelength_m * np.sin(ze) * np.cos(az - v)

    def complex_gains(
        self,
        pattern: str = "3gpp",
        tilt_deg: float = 0.0,
        t_s: float = 0.0,
        doppler_hz: NDArray | None = None,
    ) -> NDArray[np.complex128]:
        p = self.received_powers(pattern, tilt_deg)
        ph = self.ray_phase_rad
        if doppler_hz is not None and t_s:
            ph = ph + 2 * np.pi * doppler_hz * t_s
        return np.sqrt(p) * np.exp(1j * ph)

    def paths(
        self,
        pattern: str = "3gpp",
        tilt_deg: float = 0.0,
        t_s: float = 0.0,
        doppler_hz: NDArray | None = None,
        min_power_db: float = -60.0,
    ) -> list[Path]:
        """The draw as ``sim.Path`` objects for the streaming model: one path per distinct
        (cone angle, delay), coherent sum of the rays that share them (TDL rays), rays more than
        ``-min_power_db`` below the total dropped."""
        g = self.complex_gains(pattern, tilt_deg, t_s, doppler_hz)
        ang = np.round(self.ray_ula_deg(), 9)
        dly = np.round(self.ray_delay_s, 15)
        keys: dict[tuple[float, float], complex] = {}
        for a, d, x in zip(ang, dly, g):
            keys[(a, d)] = keys.get((a, d), 0.0) + x
        out = []
        floor = 10 ** (min_power_db / 10)
        for (a, d), x in keys.items():
            if abs(x) ** 2 < floor:
                continue
            out.append(
                Path(float(a), float(d), float(10 * np.log10(abs(x) ** 2)), float(np.angle(x)))
            )
        return out

    def cfr(
        self,
        ula: ULA,
        freqs_hz: ArrayLike,
        profile: Any = None,
        pattern: str = "3gpp",
        tilt_deg: float = 0.0,
        t_s: float = 0.0,
        doppler_hz: NDArray | None = None,
    ) -> NDArray[np.complex128]:
        """Noise-free channel frequency response H [M, K] at baseband frequencies ``freqs_hz``
        (relative to the carrier): sum over rays of g b(theta, f) exp(-j 2 pi f tau), with
        b the ideal steering vector or ``profile.manifold`` (impairments)."""
        f = np.asarray(freqs_hz, dtype=np.float64).ravel()
        g = self.complex_gains(pattern, tilt_deg, t_s, doppler_hz)
        th = self.ray_ula_deg()
        ph = np.exp(-2j * np.pi * np.outer(self.ray_delay_s, f))  # [R, K]
        if profile is None or profile.is_ideal:
            m = np.arange(ula.num_elements)[:, None]
            a = np.exp(2j * np.pi * ula.spacing_wavelengths * m * np.sin(np.deg2rad(th))[None, :])
            return (a * g[None, :]) @ ph
        b = profile.manifold(ula, th, f)  # [M, R, K]
        return np.einsum("mrk,r,rk->mk", b, g, ph)

    def truth(self, pattern: str = "3gpp", tilt_deg: float = 0.0) -> dict:
        """JSON-able record: the LOS direction, the clusters (gNB side, model powers) and the
        rays as received (cone angle, delay, power after the pattern, phase)."""
        p = self.received_powers(pattern, tilt_deg)
        c = self.clusters
        return {
            "model": self.model,
            "los": self.los,
            "los_azimuth_deg": self.los_azimuth_deg,
            "los_zenith_deg": self.los_zenith_deg,
            "los_aoa_deg": self.los_aoa_deg,
            "lsp": {k: (None if v is None else float(v)) for k, v in self.lsp.items()},
            "clusters": [
                {
                    "delay_s": float(c["delay_s"][i]),
                    "power_db": float(10 * np.log10(max(c["power"][i], 1e-30))),
                    "azimuth_deg": float(c["azimuth_deg"][i]),
                    "zenith_deg": float(c["zenith_deg"][i]),
                    "aoa_deg": float(ula_angle_deg(c["azimuth_deg"][i], c["zenith_deg"][i])),
                }
                for i in range(c["delay_s"].size)
            ],
            "rays": [
                {
                    "aoa_deg": float(a),
                    "delay_s": float(d),
                    "power_db": float(10 * np.log10(max(pp, 1e-30))),
                    "phase_rad": float(ph),
                    "cluster": int(k),
                }
                for a, d, pp, ph, k in zip(
                    self.ray_ula_deg(), self.ray_delay_s, p, self.ray_phase_rad, self.ray_cluster
                )
            ],
        }


# --------------------------------------------------------------------------- CDL / TDL


def cdl_clusters(
    model: str, delay_spread_s: float, k_factor_db: float | None = None
) -> dict[str, NDArray[np.float64]]:
    """The tabulated clusters of ``model`` after 7.7.3 delay scaling and (CDL-D/E, TDL-D/E) the
    7.7.6 K-factor change: ``delay_s`` = normalised delay x DS, ``power`` linear (sum 1),
    ``los`` (bool per row: the specular LOS row), and for CDL the four angle columns."""
    if model in T.CDL_TABLES:
        rows = np.array(T.CDL_TABLES[model], dtype=np.float64)
    elif model in T.TDL_TABLES:
        rows = np.array(T.TDL_TABLES[model], dtype=np.float64)
    else:
        raise ValueError(f"unknown CDL/TDL model {model!r}")
    if not (np.isfinite(delay_spread_s) and delay_spread_s > 0):
        raise ValueError(f"delay_spread_s must be > 0, got {delay_spread_s}")
    p_db = rows[:, 1].copy()
    los = np.zeros(rows.shape[0], dtype=bool)
    if model in T.LOS_MODELS:
        los[0] = True
        if k_factor_db is not None:
            # 7.7.6: K_model = P_LOS - 10 log10(sum of the other powers); move the LOS power
            k_model = p_db[0] - 10 * np.log10(np.sum(10 ** (p_db[1:] / 10)))
            p_db[0] = p_db[0] - k_model + float(k_factor_db)
    elif k_factor_db is not None:
        raise ValueError(f"{model} has no LOS path: k_factor_db applies to {T.LOS_MODELS}")
    p = 10 ** (p_db / 10)
    out = {"delay_s": rows[:, 0] * float(delay_spread_s), "power": p / np.sum(p), "los": los}
    if rows.shape[1] == 6:
        out.update(aod=rows[:, 2], aoa=rows[:, 3], zod=rows[:, 4], zoa=rows[:, 5])
    return out


def cdl_draw(
    model: str,
    rng: np.random.Generator,
    los_aoa_deg: float = 0.0,
    delay_spread_s: float = DEFAULT_DELAY_SPREAD_S,
    angle_spread_deg: float | None = None,
    k_factor_db: float | None = None,
) -> ChannelDraw:
    """A CDL realisation (7.7.1 steps 1-3 and 5; 7.7.3, 7.7.5.1, 7.7.6). The gNB is the BS of
    the tables (AOD/ZOD columns). Azimuths are rotated so that cluster 1 (the LOS ray of
    CDL-D/E, the first-arriving cluster of CDL-A/B/C) is seen at ``los_aoa_deg``; with
    ``angle_spread_deg`` the gNB azimuths are first scaled to that rms spread about their
    power-weighted mean (7.7.5.1 with Annex A spreads)."""
    c = cdl_clusters(model, delay_spread_s, k_factor_db)
    c_asd, c_asa, c_zsd, c_zsa, _ = T.CDL_CLUSTER_SPREADS[model]
    alpha = T.RAY_OFFSETS
    m = alpha.size
    az, ze, dl, pw, cl, uaz, uze = [], [], [], [], [], [], []
    for n in range(c["delay_s"].size):
        if c["los"][n]:
            az.append([c["aod"][n]])
            ze.append([c["zod"][n]])
            uaz.append([c["aoa"][n]])
            uze.append([c["zoa"][n]])
            dl.append([c["delay_s"][n]])
            pw.append([c["power"][n]])
            cl.append([-1])
            continue
        # step 3: random coupling of AOD with AOA, ZOD with ZOA and AOD with ZOD
        az.append(c["aod"][n] + c_asd * alpha)
        ze.append(c["zod"][n] + c_zsd * alpha[rng.permutation(m)])
        uaz.append(c["aoa"][n] + c_asa * alpha[rng.permutation(m)])
        uze.append(c["zoa"][n] + c_zsa * alpha[rng.permutation(m)])
        dl.append(np.full(m, c["delay_s"][n]))
        pw.append(np.full(m, c["power"][n] / m))
        cl.append(np.full(m, n))
    cat = np.concatenate
    ray_az, ray_ze = cat(az).astype(float), _fold_zenith(cat(ze))
    ray_p = cat(pw)
    cluster_az = np.asarray(c["aod"], dtype=float)
    if angle_spread_deg is not None:
        as_model, mu_model = circular_spread_deg(ray_az, ray_p)
        scale = float(angle_spread_deg) / as_model
        ray_az = scale * _wrap180(ray_az - mu_model) + mu_model
        cluster_az = scale * _wrap180(cluster_az - mu_model) + mu_model
    # rotate: the centre of cluster 1 (table row 0) at the requested cone angle
    zen0 = float(c["zod"][0])
    target = los_azimuth_deg(los_aoa_deg, zen0)
    rot = target - float(cluster_az[0])
    ray_az = _wrap180(ray_az + rot)
    cluster_az = _wrap180(cluster_az + rot)
    cl_arr = cat(cl).astype(np.int64)
    n_rays = ray_p.size
    los = bool(c["los"][0])
    return ChannelDraw(
        model=model,
        los=los,
        los_azimuth_deg=float(target),
        los_zenith_deg=zen0,
        ray_azimuth_deg=ray_az,
        ray_zenith_deg=ray_ze,
        ray_delay_s=cat(dl).astype(float),
        ray_power=ray_p,
        ray_phase_rad=rng.uniform(-np.pi, np.pi, n_rays),
        ray_cluster=cl_arr,
        ray_ue_azimuth_deg=_wrap180(cat(uaz)),
        ray_ue_zenith_deg=_fold_zenith(cat(uze)),
        clusters={
            "delay_s": c["delay_s"],
            "power": c["power"],
            "azimuth_deg": cluster_az,
            "zenith_deg": np.asarray(c["zod"], dtype=float),
        },
        lsp={
            "DS": delay_spread_s,
            "ASD": circular_spread_deg(ray_az, ray_p)[0],
            "K": _k_db(c["power"], c["los"]),
        },
    )


def _k_db(power: NDArray, los: NDArray) -> float | None:
    if not np.any(los):
        return None
    return float(10 * np.log10(np.sum(power[los]) / np.sum(power[~los])))


def tdl_draw(
    model: str,
    rng: np.random.Generator,
    los_aoa_deg: float = 0.0,
    delay_spread_s: float = DEFAULT_DELAY_SPREAD_S,
    k_factor_db: float | None = None,
    rays_per_tap: int = T.RAYS_PER_CLUSTER,
) -> ChannelDraw:
    """A TDL realisation (7.7.2, 7.7.3, 7.7.6): each Rayleigh tap is ``rays_per_tap`` equal rays
    with random phases and UE-side azimuths uniform on the circle (a Rayleigh tap with the
    classical Doppler spectrum), the LOS tap of TDL-D/E one ray; every ray arrives at the gNB
    from the UE's direction ``los_aoa_deg`` in the horizontal plane."""
    c = cdl_clusters(model, delay_spread_s, k_factor_db)
    n = c["delay_s"].size
    counts = np.where(c["los"], 1, int(rays_per_tap))
    idx = np.repeat(np.arange(n), counts)
    r = idx.size
    ue_az = rng.uniform(-180.0, 180.0, r)
    los_rows = c["los"][idx]
    ue_az[los_rows] = _wrap180(np.array([los_aoa_deg + 180.0]))[0]
    return ChannelDraw(
        model=model,
        los=bool(np.any(c["los"])),
        los_azimuth_deg=float(los_aoa_deg),
        los_zenith_deg=90.0,
        ray_azimuth_deg=np.full(r, float(los_aoa_deg)),
        ray_zenith_deg=np.full(r, 90.0),
        ray_delay_s=c["delay_s"][idx],
        ray_power=c["power"][idx] / counts[idx],
        ray_phase_rad=rng.uniform(-np.pi, np.pi, r),
        ray_cluster=np.where(los_rows, -1, idx).astype(np.int64),
        ray_ue_azimuth_deg=ue_az,
        ray_ue_zenith_deg=np.full(r, 90.0),
        clusters={
            "delay_s": c["delay_s"],
            "power": c["power"],
            "azimuth_deg": np.full(n, float(los_aoa_deg)),
            "zenith_deg": np.full(n, 90.0),
        },
        lsp={"DS": delay_spread_s, "K": _k_db(c["power"], c["los"])},
    )


# --------------------------------------------------------------------------- stochastic (7.5)


def draw_lsp(table: dict, rng: np.random.Generator) -> dict[str, float | None]:
    """Step 4: correlated large-scale parameters. lg-normal DS (s), ASD, ASA, ZSD, ZSA (deg,
    azimuth spreads capped at 104 deg, zenith at 52 deg), normal K (dB) in LOS; the normal
    variables are correlated by the Cholesky factor of the table's cross-correlation matrix."""
    names = [n for n in T.LSP_ORDER if n != "K" or table["K"] is not None]
    idx = [T.LSP_ORDER.index(n) for n in names]
    c = table["corr"][np.ix_(idx, idx)]
    w, v = np.linalg.eigh(c)  # nearest PSD square root (the tables' matrices are PD)
    root = v @ np.diag(np.sqrt(np.clip(w, 0.0, None))) @ v.T
    xi = dict(zip(names, root @ rng.standard_normal(len(names))))
    out: dict[str, float | None] = {"SF": table["SF"] * xi["SF"]}
    caps = {"ASD": 104.0, "ASA": 104.0, "ZSD": 52.0, "ZSA": 52.0}
    for n in ("DS", "ASD", "ASA", "ZSD", "ZSA"):
        mu, sigma = table[n]
        val = 10 ** (mu + sigma * xi[n])
        out[n] = min(val, caps[n]) if n in caps else val
    out["K"] = None if table["K"] is None else table["K"][0] + table["K"][1] * xi["K"]
    return out


def stochastic_draw(
    model: str,
    rng: np.random.Generator,
    los_aoa_deg: float = 0.0,
    *,
    carrier_frequency_hz: float = 3.5e9,
    distance_m: float | None = None,
    bs_height_m: float | None = None,
    ue_height_m: float | None = None,
    los: bool | None = None,
    **kw: Any,
) -> ChannelDraw:
    """One link of UMi / UMa / RMa / InH / InF per TR 38.901 7.5 steps 1-11 (module docstring).

    ``los`` None draws the LOS state from Table 7.4.2-1. ``kw``: InH ``office`` ("mixed" or
    "open"), InF ``subscenario`` (SL/DL/SH/DH/HH), ``volume_m3``, ``surface_m2`` and the clutter
    parameters ``d_clutter_m``, ``r``, ``h_c_m``.
    """
    if model not in T.STOCHASTIC_MODELS:
        raise ValueError(f"unknown stochastic model {model!r}; known: {T.STOCHASTIC_MODELS}")
    h_bs0, h_ut0, d0 = T.DEFAULT_GEOMETRY[model]
    h_bs = h_bs0 if bs_height_m is None else float(bs_height_m)
    h_ut = h_ut0 if ue_height_m is None else float(ue_height_m)
    d2d = d0 if distance_m is None else float(distance_m)
    fc = float(carrier_frequency_hz) / 1e9
    lp_kw = {k: kw[k] for k in ("office", "subscenario", "d_clutter_m", "r", "h_c_m") if k in kw}
    # step 1: geometry; step 2: LOS state
    los_zod = 90.0 + math.degrees(math.atan2(h_bs - h_ut, d2d))
    los_az = los_azimuth_deg(los_aoa_deg, los_zod)
    if los is None:
        los = bool(rng.uniform() < T.los_probability(model, d2d, h_ut, h_bs, **lp_kw))
    tab = T.lsp_table(model, los, fc, d2d, h_bs, h_ut, **kw)
    lsp = draw_lsp(tab, rng)  # step 4
    ds = float(lsp["DS"])
    k_db = lsp["K"]
    r_tau, n_cl, zeta = tab["r_tau"], int(tab["N"]), tab["zeta"]
    # step 5: delays
    tau = -r_tau * ds * np.log(rng.uniform(size=n_cl))
    tau = np.sort(tau - tau.min())
    # step 6: powers (NLOS shape, then the LOS spike for the angle generation and the cut)
    pw = np.exp(-tau * (r_tau - 1) / (r_tau * ds)) * 10 ** (-rng.normal(0.0, zeta, n_cl) / 10)
    pw = pw / pw.sum()
    k_r = None if k_db is None else 10 ** (k_db / 10)
    p_ang = pw.copy()
    if k_r is not None:
        p_ang = pw / (k_r + 1)
        p_ang[0] += k_r / (k_r + 1)
    keep = p_ang >= p_ang.max() * 10 ** (-25 / 10)
    tau, pw, p_ang = tau[keep], pw[keep], p_ang[keep]
    pw = pw / pw.sum()  # the cut clusters' power goes back to the others: K_R stays exact
    n = tau.size
    # LOS delay scaling (7.5-4), for the channel coefficients only
    tau_coef = tau / T.c_tau(k_db) if k_db is not None else tau
    # step 7: angles
    lr = np.log(p_ang / p_ang.max())

    def azimuths(spread: float, los_dir: float) -> NDArray:
        c = T.c_phi(n_cl, k_db)
        base = 2.0 * (spread / 1.4) * np.sqrt(-lr) / c
        x = rng.choice([-1.0, 1.0], n)
        y = rng.normal(0.0, spread / 7.0, n)
        ang = x * base + y
        ang = ang - ang[0] + los_dir if k_db is not None else ang + los_dir
        return _wrap180(ang)

    def zeniths(spread: float, los_dir: float, offset: float) -> NDArray:
        c = T.c_theta(n_cl, k_db)
        base = -spread * lr / c
        x = rng.choice([-1.0, 1.0], n)
        y = rng.normal(0.0, spread / 7.0, n)
        ang = x * base + y
        ang = ang - ang[0] + los_dir if k_db is not None else ang + los_dir + offset
        return ang

    los_aoa_ue = float(_wrap180(np.array([los_az + 180.0]))[0])
    los_zoa = 180.0 - los_zod
    aod = azimuths(float(lsp["ASD"]), los_az)
    aoa = azimuths(float(lsp["ASA"]), los_aoa_ue)
    zod = zeniths(float(lsp["ZSD"]), los_zod, float(tab["zod_offset"]))
    zoa = zeniths(float(lsp["ZSA"]), los_zoa, 0.0)
    alpha = T.RAY_OFFSETS
    m = alpha.size
    c_zsd = 3.0 / 8.0 * 10 ** tab["ZSD"][0]
    # step 11: sub-clusters of the two strongest clusters (by NLOS power)
    strongest = set(np.argsort(pw)[::-1][:2].tolist())
    sub_delay = np.zeros(m)
    for sc, rays in enumerate(T.SUBCLUSTER_RAYS):
        sub_delay[list(rays)] = T.SUBCLUSTER_DELAY_FACTORS[sc] * tab["c_ds"]
    nlos_share = 1.0 if k_r is None else 1.0 / (k_r + 1)
    az, ze, dl, pp, cl, uaz, uze = [], [], [], [], [], [], []
    for i in range(n):
        # step 8: AOD-AOA, ZOD-ZOA and AOD-ZOD coupled at random within the cluster, or within
        # each sub-cluster of the two strongest clusters (rays keep their sub-cluster delay)
        groups = T.SUBCLUSTER_RAYS if i in strongest else (tuple(range(m)),)
        az.append(aod[i] + tab["c_asd"] * alpha)
        ze.append(zod[i] + c_zsd * alpha[ray_coupling(rng, m, groups)])
        uaz.append(aoa[i] + tab["c_asa"] * alpha[ray_coupling(rng, m, groups)])
        uze.append(zoa[i] + tab["c_zsa"] * alpha[ray_coupling(rng, m, groups)])
        extra = sub_delay if i in strongest else np.zeros(m)
        dl.append(tau_coef[i] + extra)
        pp.append(np.full(m, pw[i] * nlos_share / m))
        cl.append(np.full(m, i))
    if k_r is not None:
        az.append([los_az])
        ze.append([los_zod])
        uaz.append([los_aoa_ue])
        uze.append([los_zoa])
        dl.append([0.0])
        pp.append([k_r / (k_r + 1)])
        cl.append([-1])
    cat = np.concatenate
    n_rays = sum(len(a) for a in az)
    lsp_out = {k: v for k, v in lsp.items() if k != "SF"}
    return ChannelDraw(
        model=model,
        los=bool(los),
        los_azimuth_deg=float(los_az),
        los_zenith_deg=float(los_zod),
        ray_azimuth_deg=_wrap180(cat(az)),
        ray_zenith_deg=_fold_zenith(cat(ze)),
        ray_delay_s=cat(dl).astype(float),
        ray_power=cat(pp).astype(float),
        ray_phase_rad=rng.uniform(-np.pi, np.pi, n_rays),  # step 10
        ray_cluster=cat(cl).astype(np.int64),
        ray_ue_azimuth_deg=_wrap180(cat(uaz)),
        ray_ue_zenith_deg=_fold_zenith(cat(uze)),
        clusters={
            "delay_s": tau_coef,
            "power": pw * nlos_share,
            "azimuth_deg": aod,
            "zenith_deg": _fold_zenith(zod),
        },
        lsp={**lsp_out, "distance_m": d2d, "bs_height_m": h_bs, "ue_height_m": h_ut},
    )


def ray_coupling(
    rng: np.random.Generator, m: int, groups: tuple[tuple[int, ...], ...]
) -> NDArray[np.int64]:
    """A random permutation of ray indices 0..m-1 that maps every group onto itself (7.5 step
    8: rays are coupled at random within a cluster, or within a sub-cluster of Table 7.5-5)."""
    perm = np.arange(m)
    for g in groups:
        idx = np.asarray(g, dtype=np.int64)
        perm[idx] = idx[rng.permutation(idx.size)]
    return perm


# --------------------------------------------------------------------------- spec (scenarios)


def check_spec(spec: Any) -> dict:
    """Validate a scenario's ``channel`` mapping (docs/channels.md); returns it with defaults.
    Raises ValueError naming the key."""
    if isinstance(spec, str):
        spec = {"model": spec}
    if not isinstance(spec, dict):
        raise ValueError("channel must be a mapping with at least 'model'")
    unknown = set(spec) - set(SPEC_KEYS)
    if unknown:
        raise ValueError(f"channel has unknown keys {sorted(unknown)}; known: {list(SPEC_KEYS)}")
    model = spec.get("model")
    if model not in MODELS:
        raise ValueError(f"channel.model must be one of {list(MODELS)}, got {model!r}")
    s = dict(spec)
    s.setdefault("element_pattern", "3gpp")
    s.setdefault("redraw", "recording")
    if s["element_pattern"] not in PATTERNS:
        raise ValueError(f"channel.element_pattern must be one of {PATTERNS}")
    if s["redraw"] not in ("recording", "occasion"):
        raise ValueError("channel.redraw must be 'recording' or 'occasion'")
    if s.get("los") not in (None, True, False):
        raise ValueError("channel.los must be true, false or null (drawn from TR 38.901 7.4.2)")
    bounds = {
        "distance_m": (0.1, 10000.0),
        "bs_height_m": (0.0, 300.0),
        "ue_height_m": (0.0, 300.0),
        "delay_spread_s": (1e-10, 1e-5),
        "angle_spread_deg": (0.01, 104.0),
        "k_factor_db": (-40.0, 60.0),
        "tilt_deg": (-90.0, 90.0),
        "ue_speed_mps": (0.0, 500.0),
        "ue_direction_deg": (-360.0, 360.0),
        "volume_m3": (1.0, 1e9),
        "surface_m2": (1.0, 1e8),
    }
    for k, (lo, hi) in bounds.items():
        v = s.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= v <= hi):
            raise ValueError(f"channel.{k} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    stochastic = model in T.STOCHASTIC_MODELS
    for k in ("distance_m", "bs_height_m", "ue_height_m", "los", "subscenario", "office"):
        if not stochastic and s.get(k) is not None:
            raise ValueError(f"channel.{k} applies to {list(T.STOCHASTIC_MODELS)}, not {model}")
    for k in ("delay_spread_s", "k_factor_db"):
        if stochastic and s.get(k) is not None:
            raise ValueError(f"channel.{k} applies to CDL/TDL models; {model} draws its own")
    if s.get("angle_spread_deg") is not None and model not in CDL_MODELS:
        raise ValueError("channel.angle_spread_deg applies to CDL models only")
    if s.get("k_factor_db") is not None and model not in T.LOS_MODELS:
        raise ValueError(f"channel.k_factor_db applies to {list(T.LOS_MODELS)}")
    if s.get("subscenario") is not None and str(s["subscenario"]).upper() not in T.INF_DEFAULTS:
        raise ValueError(f"channel.subscenario must be one of {list(T.INF_DEFAULTS)}")
    if s.get("office") not in (None, "mixed", "open"):
        raise ValueError("channel.office must be 'mixed' or 'open'")
    return s


def draw_from_spec(
    spec: dict, rng: np.random.Generator, los_aoa_deg: float, carrier_frequency_hz: float
) -> ChannelDraw:
    """One realisation of a checked ``channel`` spec with the UE seen at ``los_aoa_deg``."""
    s = check_spec(spec)
    model = s["model"]
    if model in CDL_MODELS:
        return cdl_draw(
            model,
            rng,
            los_aoa_deg,
            s.get("delay_spread_s") or DEFAULT_DELAY_SPREAD_S,
            s.get("angle_spread_deg"),
            s.get("k_factor_db"),
        )
    if model in TDL_MODELS:
        return tdl_draw(
            model,
            rng,
            los_aoa_deg,
            s.get("delay_spread_s") or DEFAULT_DELAY_SPREAD_S,
            s.get("k_factor_db"),
        )
    extra = {k: s[k] for k in ("office", "volume_m3", "surface_m2") if s.get(k) is not None}
    if s.get("subscenario") is not None:
        extra["subscenario"] = str(s["subscenario"]).upper()
    return stochastic_draw(
        model,
        rng,
        los_aoa_deg,
        carrier_frequency_hz=carrier_frequency_hz,
        distance_m=s.get("distance_m"),
        bs_height_m=s.get("bs_height_m"),
        ue_height_m=s.get("ue_height_m"),
        los=s.get("los"),
        **extra,
    )


def spec_doppler(spec: dict, draw: ChannelDraw, carrier_frequency_hz: float) -> NDArray | None:
    """Ray Doppler shifts of a spec's UE motion (None when the UE is static)."""
    v = float(spec.get("ue_speed_mps") or 0.0)
    if v == 0.0:
        return None
    lam = SPEED_OF_LIGHT / float(carrier_frequency_hz)
    return draw.doppler_hz(v, float(spec.get("ue_direction_deg") or 0.0), lam)
