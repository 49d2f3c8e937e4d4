"""Training and test data for MoD-DNN: labelled CFRs [N, M, S, K] with their AoA.

Two sources share one format (``CfrDataset``): the simulator (the default impaired array,
frequency-domain CFR snapshots) and directories of labelled recordings (a chamber sweep:
one recording per known angle, or ``.npz`` files with ``cfr`` [N, M, S, K], ``aoa_deg`` [N]
and ``subcarriers_hz`` [K]). Train / validation split is by angle (Section 6.2): validation
angles are never training angles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..array.geometry import ULA
from ..errors import SrsaoaError

# Default SRS layout of the project (DESIGN section 4 defaults: 30 kHz, 51 RB, comb 2):
# subcarrier frequencies of the SRS comb relative to the carrier, Hz.
DEFAULT_SCS_HZ = 30e3
DEFAULT_NUM_RB = 51


def default_srs_subcarriers_hz(
    num_rb: int = DEFAULT_NUM_RB, scs_hz: float = DEFAULT_SCS_HZ, comb: int = 2
) -> NDArray[np.float64]:
    """Baseband frequencies of a full-band comb SRS (grid k at (k - 6 N_RB) scs)."""
    k = np.arange(0, 12 * num_rb, comb)
    return (k - 6 * num_rb) * scs_hz


@dataclass
class CfrDataset:
    """Labelled CFRs: ``cfr`` [N, M, S, K] complex64, ``aoa_deg`` [N], ``snr_db`` [N]."""

    cfr: NDArray[np.complex64]
    aoa_deg: NDArray[np.float64]
    snr_db: NDArray[np.float64]
    subcarriers_hz: NDArray[np.float64]
    # optional [N, 2]: a further path of each CFR (angle in deg, power relative to the
    # labelled LOS path; NaN angle: none). Labels then hold both peaks (moddnn.model.
    # spectrum_targets); the LOS stays the label's strongest peak.
    extra_paths: NDArray[np.float64] | None = None
    # optional [N, M, S, K]: that further path's own noise-free CFR (zeros where none), known
    # for CFRs drawn from a model. The autoencoder's targets then pass each path to its own
    # subregion (eq 10 per path, moddnn.model.autoencoder_targets) instead of the whole CFR
    # to the LOS's subregion.
    extra_cfr: NDArray[np.complex64] | None = None

    def __len__(self) -> int:
        return int(self.aoa_deg.size)

    def subset(self, idx: ArrayLike) -> CfrDataset:
        i = np.asarray(idx)
        extra = None if self.extra_paths is None else self.extra_paths[i]
        ecfr = None if self.extra_cfr is None else self.extra_cfr[i]
        return CfrDataset(
            self.cfr[i], self.aoa_deg[i], self.snr_db[i], self.subcarriers_hz, extra, ecfr
        )

    def with_cfr(self, cfr: NDArray, extra_cfr: NDArray | None = None) -> CfrDataset:
        """The same labels with other CFRs (e.g. after a calibration's correction); the
        further paths' own CFRs are dropped unless given again (they would no longer add up
        to ``cfr``)."""
        return CfrDataset(
            cfr, self.aoa_deg, self.snr_db, self.subcarriers_hz, self.extra_paths, extra_cfr
        )


def concat(parts: list[CfrDataset]) -> CfrDataset:
    """Datasets on the same subcarriers, one after the other (extra paths kept, NaN where a
    part has none; their CFRs zero)."""
    if not parts:
        raise SrsaoaError("no datasets to join")
    f0 = parts[0].subcarriers_hz
    for q in parts[1:]:
        if q.subcarriers_hz.shape != f0.shape or q.cfr.shape[1:] != parts[0].cfr.shape[1:]:
            raise SrsaoaError("datasets have different CFR shapes or subcarriers")
    extra = None
    if any(q.extra_paths is not None for q in parts):
        extra = np.concatenate(
            [
                q.extra_paths if q.extra_paths is not None else np.full((len(q), 2), np.nan)
                for q in parts
            ]
        )
    ecfr = None
    if any(q.extra_cfr is not None for q in parts):
        ecfr = np.concatenate(
            [q.extra_cfr if q.extra_cfr is not None else np.zeros_like(q.cfr) for q in parts]
        )
    return CfrDataset(
        np.concatenate([q.cfr for q in parts]),
        np.concatenate([q.aoa_deg for q in parts]),
        np.concatenate([q.snr_db for q in parts]),
        f0,
        extra,
        ecfr,
    )


def simulate(
    aoa_deg: ArrayLike,
    snr_db: ArrayLike,
    rng: np.random.Generator,
    rho: float = 1.0,
    profile_seed: int = 2024,
    ula: ULA | None = None,
    subcarriers_hz: ArrayLike | None = None,
    num_snapshots: int = 4,
    profile=None,
) -> CfrDataset:
    """One CFR [M, S, K] per angle (single LOS path, random phase; ``snr_db=None``: noise-free)
    from the project's default impaired array ``ImpairmentProfile.default(profile_seed, rho)`` via ``sim.cfr_snapshots``."""
    from ..array.impairments import ImpairmentProfile
    from ..sim import cfr_snapshots

    ula = ula or ULA(num_elements=4)
    if profile is None:
        profile = ImpairmentProfile.default(profile_seed, rho, ula.num_elements)
    f = default_srs_subcarriers_hz() if subcarriers_hz is None else np.asarray(subcarriers_hz)
    a = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    noise_free = snr_db is None
    snr = np.broadcast_to(np.asarray(np.inf if noise_free else snr_db, np.float64), a.shape).copy()
    h = np.stack(
        [
            cfr_snapshots(
                ula, profile, float(t), None if noise_free else float(s), f, num_snapshots, rng
            )  # fmt: skip
            for t, s in zip(a, snr)
        ]
    ).astype(np.complex64)
    return CfrDataset(h, a, snr, np.asarray(f, dtype=np.float64))


def scenario_setup(path: str | Path):
    """(ULA, ImpairmentProfile, SRS subcarrier frequencies in Hz) of a simulator scenario YAML
    (docs/simulator.md): its array, impairments and the first SRS symbol's comb."""
    from ..nr.srs import srs_indices
    from ..sim import Scenario

    sc = Scenario.from_yaml(path)
    ula = sc.ula()
    carrier, srs = sc.carrier_config(), sc.srs_config()
    idx = srs_indices(carrier, srs)
    first = idx[(idx[:, 2] == 0) & (idx[:, 1] == idx[0, 1])]
    k = np.unique(first[:, 0])
    f = (k - 6 * carrier.n_size_grid) * carrier.subcarrier_spacing * 1e3
    return ula, sc.profile(ula), f.astype(np.float64)


def split_angles(
    start_deg: float, stop_deg: float, train_step_deg: float, num_val: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Training angles every ``train_step_deg``; ``num_val`` validation angles at midpoints
    between training angles (held out: never a training angle)."""
    train = start_deg + train_step_deg * np.arange(
        int(round((stop_deg - start_deg) / train_step_deg)) + 1
    )
    mids = train[:-1] + train_step_deg / 2
    val = np.sort(rng.choice(mids, size=min(num_val, mids.size), replace=False))
    return train, val


def save_npz(ds: CfrDataset, path: str | Path) -> None:
    np.savez_compressed(
        path, cfr=ds.cfr, aoa_deg=ds.aoa_deg, snr_db=ds.snr_db, subcarriers_hz=ds.subcarriers_hz
    )


def load_dir(path: str | Path, read_recording_cfrs=None) -> CfrDataset:
    """All ``*.npz`` CFR datasets and SigMF recordings with angle truth (a chamber sweep) in a
    directory, concatenated. ``read_recording_cfrs(path) -> CfrDataset`` extracts a
    recording's labelled CFRs: ``srsaoa train`` passes the receiver's C++ front end
    (``commands.calibrate.sweep_dataset``); the default is the numpy twins of
    ``moddnn.recordings``, which keep this package free of GNU Radio."""
    p = Path(path)
    if not p.is_dir():
        raise SrsaoaError(f"training data directory {p} does not exist")
    parts: list[CfrDataset] = []
    for f in sorted(p.glob("*.npz")):
        try:
            z = np.load(f)
            snr = z["snr_db"] if "snr_db" in z else np.full(z["aoa_deg"].shape, np.nan)
            parts.append(
                CfrDataset(
                    z["cfr"].astype(np.complex64),
                    z["aoa_deg"].astype(float),
                    np.asarray(snr, float),
                    z["subcarriers_hz"].astype(float),
                )
            )
        except (OSError, KeyError, ValueError) as exc:
            raise SrsaoaError(
                f"{f}: not a CFR dataset (need cfr, aoa_deg, subcarriers_hz): {exc}"
            ) from exc
    from .recordings import cfr_dataset_from_recording, recording_paths

    reader = read_recording_cfrs or cfr_dataset_from_recording
    for rec_path in recording_paths(p):
        parts.append(reader(rec_path))
    if not parts:
        raise SrsaoaError(f"no *.npz CFR datasets or SigMF recordings in {p}")
    try:
        return concat(parts)
    except SrsaoaError:
        raise SrsaoaError(f"datasets in {p} have different CFR shapes or subcarriers") from None


def simulate_from_manifold(
    manifold,
    aoa_deg: ArrayLike,
    snr_db: ArrayLike,
    rng: np.random.Generator,
    subcarriers_hz: ArrayLike,
    num_snapshots: int = 4,
    reflection_probability: float = 0.5,
    reflection_power_db: tuple[float, float] = (-15.0, -3.0),
    reflection_offset_deg: tuple[float, float] = (10.0, 50.0),
    reflection_delay_s: tuple[float, float] = (20e-9, 300e-9),
) -> CfrDataset:
    """Training CFRs [N, M, S, K] drawn from a measured (or any) manifold
    (``array.manifold``): a LOS path at each ``aoa_deg`` with a random phase, with
    probability ``reflection_probability`` a reflection (power, angle offset of random sign
    and delay uniform in the given ranges, kept inside the manifold's angle range), and
    complex Gaussian noise at ``snr_db`` per element and RE (DESIGN section 3, relative to
    the total path power). The LOS angle is the label; the reflection's angle and power are
    ``extra_paths`` and its own noise-free CFR ``extra_cfr``. This is how a sweep trains MoD-DNN as
    well as the simulator does: the sweep fixes the array, the draws are unlimited."""
    a = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    n = a.size
    f = np.asarray(subcarriers_hz, dtype=np.float64).ravel()
    snr = np.broadcast_to(np.asarray(snr_db, dtype=np.float64), a.shape)
    lo, hi = manifold.angle_range_deg
    b1 = manifold.steering(a, f)  # [M, N, K]
    h = b1 * np.exp(2j * np.pi * rng.random(n))[None, :, None]
    power = np.ones(n)
    extra = np.full((n, 2), np.nan)
    h2 = np.zeros_like(h)
    refl = rng.random(n) < reflection_probability
    if np.any(refl):
        idx = np.flatnonzero(refl)
        off = rng.uniform(*reflection_offset_deg, idx.size) * rng.choice([-1.0, 1.0], idx.size)
        th2 = a[idx] + off
        th2 = np.where((th2 < lo) | (th2 > hi), a[idx] - off, th2)
        th2 = np.clip(th2, lo, hi)
        pw = 10 ** (rng.uniform(*reflection_power_db, idx.size) / 10)
        tau = rng.uniform(*reflection_delay_s, idx.size)
        amp = np.sqrt(pw) * np.exp(2j * np.pi * rng.random(idx.size))
        b2 = manifold.steering(th2, f)  # [M, n2, K]
        h2[:, idx] = amp[None, :, None] * b2 * np.exp(-2j * np.pi * np.outer(tau, f))[None]
        h[:, idx] += h2[:, idx]
        power[idx] += pw
        extra[idx, 0], extra[idx, 1] = th2, pw
    h = np.repeat(np.moveaxis(h, 1, 0)[:, :, None, :], int(num_snapshots), axis=2)
    h2 = np.repeat(np.moveaxis(h2, 1, 0)[:, :, None, :], int(num_snapshots), axis=2)
    sigma = np.sqrt(power / 10 ** (snr / 10) / 2)[:, None, None, None]
    noise = rng.standard_normal((*h.shape, 2)) * sigma[..., None]
    h = h + noise[..., 0] + 1j * noise[..., 1]
    return CfrDataset(
        h.astype(np.complex64),
        a,
        snr.astype(np.float64).copy(),
        f,
        extra,
        h2.astype(np.complex64) if np.any(refl) else None,
    )
