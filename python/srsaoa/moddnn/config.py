"""Architecture and training settings of MoD-DNN (the paper's Sections 3-5, Table 2).

Every field is a plain number, string or bool so the config is stored as JSON beside the
weights (``moddnn.modelfile``). Angles in degrees, spacing in wavelengths.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..estimation.coarray import default_grid_deg


@dataclass(frozen=True)
class ModelConfig:
    """MoD-DNN architecture.

    Defaults follow the paper: M = 4 elements at half a wavelength, K = 16 sampled
    subcarriers, one encoder per subcarrier (Table 2, read in PyTorch's [out x in] weight
    order: layer 1 = 16 subcarriers x 16 hidden x 2M = 8 inputs, layer 2 = 16 x 8 x 16),
    P = 4 subregions over a [-60, 60] deg grid of 0.1 deg, a 1-D CNN calibrator with
    kernel 32 and 4/8/4/1 channels, lambda = 0.1, epsilon = 0.5.
    """

    num_elements: int = 4
    spacing_wavelengths: float = 0.5
    num_subcarriers: int = 16
    # K contiguous subcarrier bands instead of K single subcarriers: each band's element-0-
    # referenced snapshots are averaged into the one its encoder sees (N_sc / K times the
    # SNR; 19 subcarriers per band for 51 RB), or (False) K uniformly spaced subcarriers.
    subcarrier_bands: bool = True
    hidden: int = 16
    frequency_diverse: bool = True  # Autoencoder I (True) or the shared Autoencoder II
    num_subregions: int = 4
    grid_start_deg: float = -60.0
    grid_stop_deg: float = 60.0
    grid_step_deg: float = 0.1
    cnn_kernel: int = 32
    cnn_channels: tuple[int, ...] = (4, 8, 4, 1)
    outer_iterations: int = 3  # I: CNN <-> SCG alternations, weights shared across them
    cg_iterations: int = 8  # N_max of Algorithm 1
    cg_tol: float = 0.0  # gamma_CG of Algorithm 1 (0: always run cg_iterations)
    lam: float = 0.1  # lambda of eqs 15-21 (initial value when train_lam)
    train_lam: bool = True  # Remark 2: lambda as a trainable parameter
    eps: float = 0.5  # epsilon of eqs 28-29
    mu: float = 1e-5  # initial mu of eqs 23-26 (sparsity weight; trained)
    sparsity: bool = True  # the zero-attracting step of eq 27
    rhs: str = "observed"  # b of eq 21: "observed" eta_hat + lam z (eq 15), "iterate" eta^i + lam z
    peak_halfwidth_deg: float = 1.0  # centroid window around the spectrum peak
    # Labels of eq 31 for an angle between grid points: "interpolated" splits the unit peak
    # between the two neighbouring grid points in proportion to closeness (exactly the paper's
    # one-hot for an on-grid angle), "nearest" puts it on the nearest grid point.
    labels: str = "interpolated"
    # The coarray dictionary A~ of eqs 11-14: "nominal" (the paper: the ideal array's atoms
    # vec(a a^H)) or "calibrated" (the atoms of a measured manifold, as the network's input
    # preparation sees one path; ``MoDDNN.set_dictionary``). Calibrated atoms are stored
    # with the weights; docs/calibration.md.
    dictionary: str = "nominal"
    # eta of eq 11 is a power spectrum (eta_l >= 0). True projects every SCG output eta^i
    # (eq 20b) onto eta >= 0 before the CNN sees it and at the output; False is Algorithm 1
    # as written (the zero-attracting step of eq 27 only). docs/calibration.md.
    nonnegative: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "cnn_channels", tuple(int(c) for c in self.cnn_channels))
        checks = [
            (
                int(self.num_elements) == self.num_elements and self.num_elements >= 2,
                "num_elements >= 2",
            ),
            (0 < self.spacing_wavelengths <= 1.0, "0 < spacing_wavelengths <= 1"),
            (
                int(self.num_subcarriers) == self.num_subcarriers and self.num_subcarriers >= 1,
                "num_subcarriers >= 1",
            ),
            (int(self.hidden) == self.hidden and self.hidden >= 1, "hidden >= 1"),
            (
                int(self.num_subregions) == self.num_subregions and self.num_subregions >= 1,
                "num_subregions >= 1",
            ),
            (
                -90 < self.grid_start_deg < self.grid_stop_deg < 90,
                "-90 < grid_start_deg < grid_stop_deg < 90",
            ),
            (self.grid_step_deg > 0, "grid_step_deg > 0"),
            (int(self.cnn_kernel) == self.cnn_kernel and self.cnn_kernel >= 1, "cnn_kernel >= 1"),
            (
                len(self.cnn_channels) >= 1
                and self.cnn_channels[-1] == 1
                and min(self.cnn_channels) >= 1,
                "cnn_channels positive, ending in 1",
            ),
            (
                int(self.outer_iterations) == self.outer_iterations and self.outer_iterations >= 1,
                "outer_iterations >= 1",
            ),
            (
                int(self.cg_iterations) == self.cg_iterations and self.cg_iterations >= 1,
                "cg_iterations >= 1",
            ),
            (self.cg_tol >= 0, "cg_tol >= 0"),
            (self.lam > 0, "lam > 0"),
            (self.eps > 0, "eps > 0"),
            (self.mu > 0, "mu > 0"),
            (self.peak_halfwidth_deg >= 0, "peak_halfwidth_deg >= 0"),
            (self.rhs in ("observed", "iterate"), "rhs 'observed' or 'iterate'"),
            (self.labels in ("interpolated", "nearest"), "labels 'interpolated' or 'nearest'"),
            (
                self.dictionary in ("nominal", "calibrated"),
                "dictionary 'nominal' or 'calibrated'",
            ),
        ]
        for ok, what in checks:
            if not ok:
                raise ValueError(f"ModelConfig: need {what}")
        if self.num_grid_points < 2 * self.num_subregions:
            raise ValueError("ModelConfig: the grid is too coarse for that many subregions")

    @property
    def grid_deg(self) -> NDArray[np.float64]:
        return default_grid_deg(self.grid_start_deg, self.grid_stop_deg, self.grid_step_deg)

    @property
    def num_grid_points(self) -> int:
        return int(round((self.grid_stop_deg - self.grid_start_deg) / self.grid_step_deg)) + 1

    def subregion_bounds(self) -> list[tuple[int, int]]:
        """[start, stop) grid indices of each subregion (Section 3.1: theta_p holds grid points
        floor(L (p-1) / P) + 1 ... floor(L p / P), 1-based)."""
        n, p = self.num_grid_points, self.num_subregions
        edges = [(n * i) // p for i in range(p + 1)]
        return [(edges[i], edges[i + 1]) for i in range(p)]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["cnn_channels"] = list(self.cnn_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        # model files written before these fields existed used sampled subcarriers and
        # nearest-grid labels
        return cls(**{"subcarrier_bands": False, "labels": "nearest", **d})


def dictionary_defaults(dictionary: str) -> dict[str, Any]:
    """ModelConfig fields whose default depends on the coarray dictionary, as ``srsaoa
    train`` sets them: with a sweep's calibrated atoms one subregion (a four-element array's
    subregion decoders leak a reflection into the LOS's spectrum) and eta >= 0; with the
    nominal atoms the paper's four subregions and Algorithm 1 as written
    (docs/calibration.md)."""
    calibrated = dictionary == "calibrated"
    return {"num_subregions": 1 if calibrated else 4, "nonnegative": calibrated}


@dataclass
class TrainConfig:
    """Training recipe (Section 5): Adam, lr 0.01, batch 64, lr halved every 5 epochs.

    Dataset sizes are scaled down so the default run takes minutes on 2 CPU cores; the
    paper used 1201 angles x 40 realisations and 30 epochs.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.01
    lr_half_every: int = 5
    autoencoder_epochs: int = 6
    train_step_deg: float = 0.2  # training angles: every train_step_deg over the grid
    realisations: int = 8  # CFRs per training angle
    val_angles: int = 200  # held-out validation angles (off the training grid)
    snr_db: float = 10.0
    snr_jitter_db: float = 3.0  # training SNR uniform in snr_db +- jitter
    seed: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def positive_int(name: str, minimum: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")

        for name, minimum in (
            ("epochs", 1),
            ("batch_size", 1),
            ("lr_half_every", 1),
            ("autoencoder_epochs", 0),
            ("realisations", 1),
            ("val_angles", 1),
        ):
            positive_int(name, minimum)
        for name in ("lr", "train_step_deg"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be > 0, got {v}")
        if not (math.isfinite(self.snr_jitter_db) and self.snr_jitter_db >= 0):
            raise ValueError(f"snr_jitter_db must be >= 0, got {self.snr_jitter_db}")
        if not math.isfinite(self.snr_db):
            raise ValueError(f"snr_db must be finite, got {self.snr_db}")
