"""A trained MoD-DNN lowered to a few numpy arrays for fast inference (the flowgraph path).

The network is tiny (a 4 x 31 spectrum per subregion on the default 1 deg grid), so PyTorch's
per-operation dispatch, not arithmetic, sets its single-CFR latency: 3 outer iterations x
(4 convolutions, 4 batch norms) and 3 x 8 SCG steps are some 500 operations. Lowered, in
evaluation mode, each convolution with its batch norm is one affine map, written as a dense
(Toeplitz) matrix per subregion and applied by numpy's einsum, and each SCG layer is one call of the
C++ kernel (scg_kernel.h) whose Python twin is ``moddnn.scg.scg_solve``.

The lowering is exact up to float rounding: ``tests/test_moddnn_lowered.py`` holds it to
the PyTorch model (the oracle) on random CFRs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from ..srsaoa_kernels import scg_solve
from .config import ModelConfig
from .model import MoDDNN, peak_aoa, prepare_input


def _conv_bn_matrix(
    conv: torch.nn.Conv1d, bn: torch.nn.BatchNorm1d, p: int, length: int, pad_left: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Grouped conv (groups = p, zero padding) followed by batch norm in eval mode, as
    y_g = T_g x_g + c_g per group g: T [p, cout * L, cin * L], c [p, cout * L]."""
    w = conv.weight.detach().cpu().double().numpy()  # [p * cout, cin, k]
    cout = w.shape[0] // p
    cin, k = w.shape[1], w.shape[2]
    rv, rm = bn.running_var.detach().cpu().double(), bn.running_mean.detach().cpu().double()
    gamma, beta = bn.weight.detach().cpu().double(), bn.bias.detach().cpu().double()
    scale = (gamma / torch.sqrt(rv + bn.eps)).numpy()
    shift = (beta - rm * torch.from_numpy(scale)).numpy()
    ws = (w * scale[:, None, None]).reshape(p, cout, cin, k)
    t = np.zeros((p, cout, length, cin, length))
    # out[j] = sum_tap w[tap] x[j + tap - pad_left], x zero outside [0, L)
    j = np.arange(length)
    for tap in range(k):
        i = j + tap - pad_left
        ok = (i >= 0) & (i < length)
        t[:, :, j[ok], :, i[ok]] += ws[:, :, :, tap]
    c = np.repeat(shift.reshape(p, cout), length, axis=1)
    return t.reshape(p, cout * length, cin * length), c


class LoweredMoDDNN:
    """Evaluation-mode MoD-DNN in numpy float32 (float64 in the SCG kernel): the same spectra
    as ``MoDDNN`` (to float32 rounding), at a fraction of the single-CFR latency. Puts
    ``model`` in evaluation mode (it serves batches of ``TORCH_BATCH`` or more)."""

    # From this many CFRs on, PyTorch's batched forward beats CFR-by-CFR lowered inference
    # (benchmarks/bench_moddnn.py measures both; docs/moddnn.md, speed).
    TORCH_BATCH = 8

    def __init__(self, model: MoDDNN) -> None:
        cfg: ModelConfig = model.cfg
        self.cfg = cfg
        self.model = model.eval()
        ae = model.autoencoder

        def f32(t: torch.Tensor) -> NDArray[np.float32]:
            return t.detach().cpu().float().numpy()

        self.enc_w, self.enc_b = f32(ae.enc_w), f32(ae.enc_b)  # [Kk, 2M, H], [Kk, H]
        self.dec_w, self.dec_b = f32(ae.dec_w), f32(ae.dec_b)  # [P, Kk, H, 2M], [P, Kk, 2M]
        self.a_conj = model.coarray.a_conj.detach().cpu().numpy().astype(np.complex64)
        self.mask = f32(model.coarray.mask)  # [P, L]
        p, lm = self.mask.shape
        cal = model.ssr.calibrator
        # per outer iteration and layer: (T^T, c), so that a row vector x maps to x T^T + c
        self.layers = []
        for norms in cal.norms:
            mats = [
                _conv_bn_matrix(conv, bn, p, lm, cal.pad[0]) for conv, bn in zip(cal.convs, norms)
            ]
            self.layers.append(
                [
                    (
                        np.ascontiguousarray(t.transpose(0, 2, 1), np.float32),
                        c[:, None, :].astype(np.float32),
                    )
                    for t, c in mats
                ]
            )
        self.lam = float(model.ssr.log_lam.detach().exp())
        self.mu = float(model.ssr.log_mu.detach().exp())
        proj = model.coarray.proj.detach().cpu().double().numpy()  # [P, L, L]
        self.system = proj + self.lam * np.eye(lm)  # P + lambda I, for the SCG kernel
        self.bounds = model.bounds
        self.grid = model.grid.detach().cpu().double().numpy()

    def forward(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Prepared input [B, S, K, 2M] -> spectra eta^I [B, P, L_max] (as ``MoDDNN.forward``)."""
        cfg = self.cfg
        m = cfg.num_elements
        # einsum (numpy's own loops), never matmul: OpenBLAS threads on products this small
        # cost milliseconds when the other core is busy (docs/moddnn.md)
        xk = np.asarray(x, np.float32)
        if self.enc_w.shape[0] == 1:  # shared encoder and decoders (Autoencoder II)
            c = np.tanh(np.einsum("bskm,mh->bskh", xk, self.enc_w[0]) + self.enc_b[0])
            hp = np.einsum("bskh,phm->pbskm", c, self.dec_w[:, 0]) + self.dec_b[:, None, None]
        else:
            c = np.tanh(np.einsum("bskm,kmh->bskh", xk, self.enc_w) + self.enc_b)
            hp = np.einsum("bskh,pkhm->pbskm", c, self.dec_w) + self.dec_b[:, None, None]
        z = hp[..., :m] + 1j * hp[..., m:]  # [P, B, S, K, M]
        # y = vec(R_p), R_p = mean z z^H over symbols and subcarriers; y[i M + j] = R[j, i]
        r = np.einsum("pbskm,pbskn->pbmn", np.conj(z), z) / (z.shape[2] * z.shape[3])
        y = r.reshape(z.shape[0], z.shape[1], m * m)  # [P, B, M^2]
        eta_hat = np.real(np.einsum("pbq,pql->bpl", y, self.a_conj))  # [B, P, L]
        eta = eta_hat
        last = len(self.layers[0]) - 1
        for layers in self.layers[: cfg.outer_iterations]:
            h = eta.transpose(1, 0, 2).astype(np.float32)  # [P, B, L], one input channel
            for i, (tt, cst) in enumerate(layers):
                h = np.einsum("pbi,pij->pbj", h, tt) + cst
                if i < last:
                    h = np.maximum(h, 0.0)
            z_cal = h.transpose(1, 0, 2) * self.mask
            data = eta_hat if cfg.rhs == "observed" else eta
            # the C++ twin of moddnn.scg.scg_solve (one call instead of ~250 numpy ones)
            eta = scg_solve(
                self.system,
                data + self.lam * z_cal,
                cfg.eps,
                self.mu,
                cfg.cg_iterations,
                cfg.cg_tol,
                cfg.sparsity,
            )
            if cfg.nonnegative:
                eta = np.maximum(eta, 0.0)
        return eta

    def full_spectrum(self, eta: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.concatenate([eta[:, i, : e - s] for i, (s, e) in enumerate(self.bounds)], -1)

    def spectra(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """Prepared inputs [B, S, K, 2M] -> spectra [B, L] on ``cfg.grid_deg``: CFR by CFR
        through the lowering (fastest for a few), or, from ``TORCH_BATCH`` CFRs on, through
        the PyTorch model in one batch."""
        if x.shape[0] >= self.TORCH_BATCH:
            with torch.inference_mode():
                return self.model.full_spectrum(self.model(torch.from_numpy(x))).double().numpy()
        return np.concatenate(
            [self.full_spectrum(self.forward(x[i : i + 1])) for i in range(len(x))]
        )

    def spectrum(self, h: ArrayLike) -> NDArray[np.float64]:
        """CFR [B, M, S, K_cfr] or [M, S, K_cfr] -> spectrum [B, L] on ``cfg.grid_deg``."""
        return self.spectra(prepare_input(h, self.cfg))

    def estimate(self, h: ArrayLike) -> NDArray[np.float64]:
        """CFR [B, M, S, K_cfr] or [M, S, K_cfr] -> AoA in degrees, [B]."""
        return peak_aoa(
            self.spectrum(h), self.grid, self.cfg.peak_halfwidth_deg / self.cfg.grid_step_deg
        )

    def estimate_batch(self, cfrs: Sequence[ArrayLike]) -> list[tuple[float, float]]:
        """(AoA deg, spectrum peak) for each CFR [M, S, K] of a list (equal-S groups
        together, see ``spectra``)."""
        out: list[tuple[float, float] | None] = [None] * len(cfrs)
        x = [prepare_input(h, self.cfg) for h in cfrs]
        groups: dict[int, list[int]] = {}
        for i, xi in enumerate(x):
            groups.setdefault(int(xi.shape[1]), []).append(i)
        hw = self.cfg.peak_halfwidth_deg / self.cfg.grid_step_deg
        for idx in groups.values():
            s = self.spectra(np.concatenate([x[i] for i in idx]))
            aoa = peak_aoa(s, self.grid, hw)
            peak = s.max(-1)
            for j, i in enumerate(idx):
                out[i] = (float(aoa[j]), float(peak[j]))
        return [o for o in out if o is not None]
