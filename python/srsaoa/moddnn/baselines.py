"""Baselines of the MoD-DNN paper's comparison (Section 5.3), in the same framework.

- ``classical``: uncalibrated DBF, MUSIC and ESPRIT (``estimation.doa``) on the sample
  covariance of all CFR snapshots, ideal steering vectors.
- ``DeepMUSIC`` (Elbir, IEEE WCL 2020): a 2-D CNN mapping the covariance (real, imaginary and
  phase channels) to the MUSIC spectrum on a grid; trained on MUSIC spectra of the training
  covariances (its labels come from the model, so it inherits MUSIC's array mismatch).
- ``CNNRegressor``: a purely data-driven CNN regressing the angle from the same input,
  trained with the true angles (MSE).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn

from ..estimation import doa
from ..estimation.covariance import sample_covariance
from .model import peak_aoa

CLASSICAL = ("dbf", "music", "esprit")


def classical(method: str, cfr: ArrayLike, spacing_wavelengths: float = 0.5) -> NDArray[np.float64]:
    """AoA (deg) of each CFR [N, M, S, K] with an uncalibrated model-based estimator."""
    h = np.asarray(cfr)
    out = np.empty(h.shape[0])
    for i, x in enumerate(h):
        r = sample_covariance(x)
        if method == "dbf":
            out[i] = doa.dbf(r, 1, spacing_wavelengths)[0]
        elif method == "music":
            out[i] = doa.music(r, 1, spacing_wavelengths)[0]
        elif method == "esprit":
            out[i] = doa.esprit(r, 1, spacing_wavelengths)[0]
        else:
            raise ValueError(f"unknown classical method {method!r} (one of {CLASSICAL})")
    return out


def covariance_features(cfr: ArrayLike) -> Tensor:
    """[N, M, S, K] -> [N, 3, M, M]: real, imaginary and phase of R / trace(R) (Elbir 2020)."""
    h = np.asarray(cfr)
    r = np.stack([sample_covariance(x) for x in h])
    r = r / np.real(np.trace(r, axis1=1, axis2=2))[:, None, None]
    f = np.stack([r.real, r.imag, np.angle(r) / np.pi], axis=1)
    return torch.from_numpy(f.astype(np.float32))


class _CovNet(nn.Module):
    def __init__(self, m: int, out: int, width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 2), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 2), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(width * (m - 2) * (m - 2), 256), nn.ReLU(),
            nn.Linear(256, out),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def _fit(
    net: nn.Module, x: Tensor, y: Tensor, epochs: int, seed: int, lr: float = 1e-3
) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sch = torch.optim.lr_scheduler.StepLR(opt, 5, gamma=0.5)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0] - 1, 64):
            idx = perm[i : i + 64]
            if len(idx) < 2:
                continue
            loss = ((net(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sch.step()
    return net.eval()


class DeepMUSIC:
    """Elbir's DeepMUSIC: covariance -> MUSIC spectrum (normalised to peak 1) on a 0.5 deg grid."""

    def __init__(
        self,
        num_elements: int = 4,
        spacing_wavelengths: float = 0.5,
        grid_deg: ArrayLike | None = None,
        seed: int = 0,
    ) -> None:
        self.grid = np.arange(-60, 60.01, 0.5) if grid_deg is None else np.asarray(grid_deg, float)
        self.spacing = spacing_wavelengths
        torch.manual_seed(seed)
        self.seed = seed
        self.net = _CovNet(num_elements, self.grid.size)

    def _label(self, cfr: NDArray) -> Tensor:
        s = np.stack(
            [doa.music_spectrum(sample_covariance(x), 1, self.spacing, self.grid) for x in cfr]
        )
        return torch.from_numpy((s / s.max(1, keepdims=True)).astype(np.float32))

    def fit(self, cfr: ArrayLike, aoa_deg: ArrayLike | None = None, epochs: int = 15) -> DeepMUSIC:
        h = np.asarray(cfr)
        _fit(self.net, covariance_features(h), self._label(h), epochs, self.seed)
        return self

    @torch.no_grad()
    def predict(self, cfr: ArrayLike) -> NDArray[np.float64]:
        s = self.net(covariance_features(cfr))
        step = float(self.grid[1] - self.grid[0])
        return peak_aoa(s, torch.from_numpy(self.grid), 1.0 / step)


class CNNRegressor:
    """Purely data-driven CNN: covariance features -> angle / 60 deg, MSE on the true angle."""

    def __init__(self, num_elements: int = 4, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.seed = seed
        self.net = _CovNet(num_elements, 1)

    def fit(self, cfr: ArrayLike, aoa_deg: ArrayLike, epochs: int = 15) -> CNNRegressor:
        y = torch.as_tensor(np.asarray(aoa_deg, np.float32) / 60.0)[:, None]
        _fit(self.net, covariance_features(cfr), y, epochs, self.seed)
        return self

    @torch.no_grad()
    def predict(self, cfr: ArrayLike) -> NDArray[np.float64]:
        return self.net(covariance_features(cfr))[:, 0].double().numpy() * 60.0
