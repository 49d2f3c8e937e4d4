"""MoD-DNN (Liu et al., ACM TOSN 2025, Sections 3-4) in PyTorch.

Pipeline for one CFR H [M, S, K_cfr] (DESIGN section 6):

1. ``prepare_cfr``: take K uniformly spaced SRS subcarriers, refer every snapshot h(k) to
   element 0's phase and scale it to ||h|| = sqrt(M) (so a noise-free single path gives
   R = a a^H), and stack real and imaginary parts, h~(k) in R^2M (Section 3.1).
2. ``MultiTaskAutoencoder``: encoder per subcarrier c(k) = tanh(C_k h~(k) + b_k) (eq 8),
   P linear decoders h~_p(k) = D_pk c(k) + b_pk (eq 9), trained towards eq 10 (pass h~ into
   its own subregion, zero elsewhere). ``frequency_diverse=False`` shares one encoder and
   one decoder set across subcarriers (Autoencoder II of Fig. 4c-d).
3. ``CoarraySpectrum``: R_p = mean h_p h_p^H, y_p = vec(R_p) (eqs 11-13) and the coarray
   DBF spectrum eta_hat_p = A~_p^H y_p on the subregion's grid theta_p, with its projection
   matrix P_p = A~_p^H A~_p (eq 14); both are real for a ULA (a^H R a and |a^H b|^2).
4. ``MoDLSSR``: I alternations of the CNN calibrator z^i = C_w(eta^i) (eq 30; the same
   weights at every iteration, one calibrator per subregion) and the SCG layer solving
   (P + lambda I) eta = b (eq 21, Algorithm 1), each SCG output projected onto eta >= 0
   with ``cfg.nonnegative``. Output eta^I is compared with one-hot labels by the MSE of
   eq 31.

The P subregions run side by side as one batched tensor [B, P, L_max]; the shorter
subregions are zero-padded (zero rows of A~, so their padding stays exactly zero).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn

from ..estimation.coarray import coarray_manifold, projection_matrix
from .config import ModelConfig
from .scg import scg_solve


def subcarrier_indices(num_cfr_subcarriers: int, k: int) -> NDArray[np.int64]:
    """K uniformly spaced column indices of a CFR with ``num_cfr_subcarriers`` columns."""
    if num_cfr_subcarriers < k:
        raise ValueError(f"the CFR has {num_cfr_subcarriers} subcarriers, the model needs {k}")
    return np.round(np.linspace(0, num_cfr_subcarriers - 1, k)).astype(np.int64)


def subcarrier_bands(num_cfr_subcarriers: int, k: int) -> NDArray[np.int64]:
    """Edges [k + 1] of K contiguous, near-equal bands of a CFR's ``num_cfr_subcarriers``."""
    if num_cfr_subcarriers < k:
        raise ValueError(f"the CFR has {num_cfr_subcarriers} subcarriers, the model needs {k}")
    return np.round(np.linspace(0, num_cfr_subcarriers, k + 1)).astype(np.int64)


def model_subcarriers(full_hz: ArrayLike, cfg: ModelConfig) -> NDArray[np.float64]:
    """The subcarriers (Hz) of a full SRS comb ``full_hz`` that the model's input uses: all of
    them with ``cfg.subcarrier_bands``, else the K sampled ones."""
    f = np.asarray(full_hz, dtype=np.float64)
    return f if cfg.subcarrier_bands else f[subcarrier_indices(f.size, cfg.num_subcarriers)]


def _cfr_batch(h: ArrayLike | Tensor, cfg: ModelConfig) -> NDArray:
    if isinstance(h, Tensor):
        h = h.detach().cpu().numpy()
    t = np.asarray(h)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[1] != cfg.num_elements:
        raise ValueError(
            f"CFR must be [B, M={cfg.num_elements}, S, K] or [M, S, K], got {tuple(t.shape)}"
        )
    return t


def _snapshots(t: NDArray, cfg: ModelConfig) -> NDArray[np.complex64]:
    """CFR [B, M, S, K_cfr] -> snapshots [B, S, K_cfr or K, M] (the K sampled subcarriers
    unless ``cfg.subcarrier_bands``)."""
    if not cfg.subcarrier_bands:
        t = t[..., subcarrier_indices(t.shape[-1], cfg.num_subcarriers)]
    return t.astype(np.complex64).transpose(0, 2, 3, 1)


def _band_mean(x: NDArray[np.complex64], kc: int, cfg: ModelConfig) -> NDArray[np.complex64]:
    if not cfg.subcarrier_bands:
        return x
    edges = subcarrier_bands(kc, cfg.num_subcarriers)
    return np.add.reduceat(x, edges[:-1], axis=2) / np.diff(edges)[:, None].astype(np.float32)


def _pack(x: NDArray[np.complex64]) -> NDArray[np.float32]:
    return np.ascontiguousarray(np.concatenate([x.real, x.imag], -1), dtype=np.float32)


def _prepare(
    h: ArrayLike | Tensor, cfg: ModelConfig, part: ArrayLike | Tensor | None
) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    t = _cfr_batch(h, cfg)
    kc = t.shape[-1]
    x = _snapshots(t, cfg)
    ref = x[..., :1]
    rot = np.conj(ref) / np.maximum(np.abs(ref), 1e-30)
    x = _band_mean(x * rot, kc, cfg)
    norm = np.maximum(np.sqrt(np.add.reduce(x.real**2 + x.imag**2, -1))[..., None], 1e-30)
    scale = np.float32(np.sqrt(cfg.num_elements)) / norm
    if part is None:
        return _pack(x * scale), None
    tp = _cfr_batch(part, cfg)
    if tp.shape != t.shape:
        raise ValueError(f"a path's CFR {tp.shape} does not match the CFR {t.shape}")
    return _pack(x * scale), _pack(_band_mean(_snapshots(tp, cfg) * rot, kc, cfg) * scale)


def prepare_input(h: ArrayLike | Tensor, cfg: ModelConfig) -> NDArray[np.float32]:
    """CFR [B, M, S, K_cfr] (or one [M, S, K_cfr]) -> real network input [B, S, K, 2M].

    Every snapshot is referred to element 0's phase; with ``cfg.subcarrier_bands`` the
    snapshots of each of K contiguous bands are then averaged (coherently: the referred
    phases of one path agree within a band), else K uniformly spaced subcarriers are taken.
    Each snapshot is scaled to norm sqrt(M). (numpy: also the lowered inference path.)
    """
    return _prepare(h, cfg, None)[0]


def prepare_input_with_part(
    h: ArrayLike | Tensor, part: ArrayLike | Tensor, cfg: ModelConfig
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``prepare_input`` of a CFR and, with the same per-snapshot reference phase and scale
    (the CFR's own), of one of its paths' CFR ``part`` (same shape): the prepared input is
    linear in the CFR once those are fixed, so the part's share of the input is exact."""
    x, xp = _prepare(h, cfg, part)
    assert xp is not None
    return x, xp


def prepare_cfr(h: ArrayLike | Tensor, cfg: ModelConfig) -> Tensor:
    """``prepare_input`` as a torch tensor [B, S, K, 2M] (float32)."""
    return torch.from_numpy(prepare_input(h, cfg))


class MultiTaskAutoencoder(nn.Module):
    """Eqs 8-9: per-subcarrier encoder (K x [2M -> hidden]) and P decoders (K x [hidden -> 2M])."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        m2, hdim, p = 2 * cfg.num_elements, cfg.hidden, cfg.num_subregions
        kk = cfg.num_subcarriers if cfg.frequency_diverse else 1
        g = torch.Generator().manual_seed(0)
        self.enc_w = nn.Parameter(torch.randn(kk, m2, hdim, generator=g) / np.sqrt(m2))
        self.enc_b = nn.Parameter(torch.zeros(kk, hdim))
        self.dec_w = nn.Parameter(torch.randn(p, kk, hdim, m2, generator=g) / np.sqrt(hdim))
        self.dec_b = nn.Parameter(torch.zeros(p, kk, m2))

    def forward(self, x: Tensor) -> Tensor:
        """[B, S, K, 2M] -> [B, P, S, K, 2M]."""
        c = torch.tanh(torch.einsum("bskm,kmh->bskh", x, self.enc_w) + self.enc_b)
        return torch.einsum("bskh,pkhm->bpskm", c, self.dec_w) + self.dec_b[None, :, None]


class CoarraySpectrum(nn.Module):
    """Eqs 11-14 per subregion: eta_hat_p = Re(A~_p^H vec(R_p)), P_p = Re(A~_p^H A~_p), both
    divided by M^2 (unit-norm coarray atoms), so P_p has a unit diagonal.

    The atoms are the ideal array's (``cfg.dictionary == "nominal"``, the paper) or a
    measured manifold's (``"calibrated"``): then they are a persistent buffer ``atoms``,
    saved with the weights and set by ``MoDDNN.set_dictionary``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.bounds = cfg.subregion_bounds()
        m = cfg.num_elements
        # Unit-norm coarray atoms: ||vec(a a^H)|| = M, so A~/M gives P a unit diagonal and
        # lambda, mu are relative to it whatever M and the grid; with the snapshots of
        # norm sqrt(M) (R = a a^H) eta_hat / M^2 = (P / M^2) e still holds for one path.
        atoms = coarray_manifold(m, cfg.spacing_wavelengths, cfg.grid_deg) / m
        lmax = max(e - s for s, e in self.bounds)
        self.num_elements = m
        self.calibrated = cfg.dictionary == "calibrated"
        self.register_buffer(
            "atoms", torch.from_numpy(self._layout(atoms, lmax)), persistent=self.calibrated
        )
        self.register_buffer(
            "a_conj",
            torch.zeros(len(self.bounds), m * m, lmax, dtype=torch.complex64),
            persistent=False,
        )
        self.register_buffer("proj", torch.zeros(len(self.bounds), lmax, lmax), persistent=False)
        self.register_buffer("mask", torch.zeros(len(self.bounds), lmax), persistent=False)
        self.refresh()
        # loading calibrated atoms (a model file, a checkpoint) re-derives A~^H and P from them
        self.register_load_state_dict_post_hook(CoarraySpectrum._after_load)

    @staticmethod
    def _after_load(module: CoarraySpectrum, _keys: object) -> None:
        module.refresh()

    def _layout(self, atoms: NDArray, lmax: int) -> NDArray[np.complex64]:
        """Atoms [M^2, L] on the whole grid -> [P, M^2, L_max], subregions zero-padded."""
        out = np.zeros((len(self.bounds), atoms.shape[0], lmax), np.complex64)
        for i, (s, e) in enumerate(self.bounds):
            out[i, :, : e - s] = atoms[:, s:e]
        return out

    def set_atoms(self, atoms: ArrayLike) -> None:
        """Unit-norm atoms [M^2, L] on the model grid (``calibrated_atoms``)."""
        a = np.asarray(atoms)
        want = (self.num_elements**2, self.bounds[-1][1])
        if a.shape != want:
            raise ValueError(f"atoms must be {list(want)}, got {list(a.shape)}")
        self.atoms.copy_(torch.from_numpy(self._layout(a, self.atoms.shape[-1])))
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """A~_p^H / M and P_p from ``atoms``; ValueError if the atoms are not finite, unit-norm
        columns (a corrupt or foreign model file)."""
        a = self.atoms.detach().cpu().numpy().astype(np.complex128)  # [P, M^2, L_max]
        mask = np.zeros(a.shape[::2], np.float32)
        for i, (s, e) in enumerate(self.bounds):
            mask[i, : e - s] = 1.0
        norms = np.linalg.norm(a, axis=1)
        if not np.all(np.isfinite(a)) or np.max(np.abs(norms - mask)) > 1e-3:
            raise ValueError("the coarray dictionary needs finite, unit-norm atoms")
        m = self.num_elements
        pm = np.stack([projection_matrix(ap).real for ap in a])
        dev = self.atoms.device
        self.a_conj.copy_(torch.from_numpy((a.conj() / m).astype(np.complex64)).to(dev))
        self.proj.copy_(torch.from_numpy(pm.astype(np.float32)).to(dev))
        self.mask.copy_(torch.from_numpy(mask).to(dev))

    def forward(self, hp: Tensor) -> Tensor:
        """[B, P, S, K, 2M] -> [B, P, L_max]."""
        m = self.num_elements
        x = torch.complex(hp[..., :m], hp[..., m:]).flatten(2, 3)  # [B, P, N, M]
        r = (x.unsqueeze(-1) * x.conj().unsqueeze(-2)).mean(2)  # R_p = mean h h^H, [B, P, M, M]
        y = r.transpose(-1, -2).flatten(-2)  # vec(R): column stacking, [B, P, M^2]
        return torch.einsum("bpq,pql->bpl", y, self.a_conj).real


class CNNCalibrator(nn.Module):
    """Eq 30: 1-D CNN (zero padding, batch norm, ReLU except the last layer), one per subregion.

    The P calibrators run as grouped convolutions (groups = P), so they share no weights.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        p, k = cfg.num_subregions, cfg.cnn_kernel
        self.pad = (k // 2, k - 1 - k // 2)
        self.convs = nn.ModuleList()
        cin = 1
        for cout in cfg.cnn_channels:
            self.convs.append(nn.Conv1d(p * cin, p * cout, k, groups=p, bias=False))
            cin = cout
        # Batch-norm statistics per outer iteration: eta^0 (coarray spectrum) and the SCG
        # outputs eta^i differ in scale by M^2, so one set of running statistics would not fit
        # both at inference. The convolution kernels (the CNN's weights) are shared (Fig. 3b).
        self.norms = nn.ModuleList(
            nn.ModuleList(nn.BatchNorm1d(p * c) for c in cfg.cnn_channels)
            for _ in range(cfg.outer_iterations)
        )
        self.p = p

    def forward(self, eta: Tensor, mask: Tensor, iteration: int = 0) -> Tensor:
        """[B, P, L] -> [B, P, L] at outer iteration ``iteration``."""
        x = eta
        last = len(self.convs) - 1
        for i, (conv, bn) in enumerate(zip(self.convs, self.norms[iteration])):
            x = bn(conv(F.pad(x, self.pad)))
            if i < last:
                x = F.relu(x)
        return x * mask


class MoDLSSR(nn.Module):
    """Section 4: I alternations of the shared CNN calibrator (20a) and the SCG layer (20b/21)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.calibrator = CNNCalibrator(cfg)
        self.log_mu = nn.Parameter(torch.tensor(float(np.log(cfg.mu))))
        # Remark 2: lambda may be trained; it is stored as log(lambda) either way.
        log_lam = torch.tensor(float(np.log(cfg.lam)))
        if cfg.train_lam:
            self.log_lam = nn.Parameter(log_lam)
        else:
            self.register_buffer("log_lam", log_lam)

    def forward(self, eta_hat: Tensor, proj: Tensor, mask: Tensor) -> Tensor:
        cfg = self.cfg
        eta = eta_hat
        mu = self.log_mu.exp()
        lam = self.log_lam.exp()
        for i in range(cfg.outer_iterations):
            z = self.calibrator(eta, mask, i)
            data = eta_hat if cfg.rhs == "observed" else eta
            eta = scg_solve(
                proj,
                data + lam * z,
                lam,
                cfg.eps,
                mu,
                cfg.cg_iterations,
                cfg.cg_tol,
                cfg.sparsity,
            )
            if cfg.nonnegative:  # eta is a power spectrum (eq 11): project onto eta >= 0
                eta = F.relu(eta)
        return eta


def calibrated_atoms(
    manifold, subcarriers_hz: ArrayLike, cfg: ModelConfig
) -> NDArray[np.complex128]:
    """Unit-norm coarray atoms [M^2, L] of a measured manifold (``array.manifold``: its
    ``steering(theta, f)`` [M, L, F], in the domain of CFRs corrected by its constant part) on
    the model grid, exactly as the network's input preparation sees one noise-free path: each
    grid angle's CFR over the SRS subcarriers ``subcarriers_hz`` through ``prepare_input``,
    R = mean over the K bands of h~ h~^H, atom = vec(R) / ||vec(R)||. For the ideal ULA
    this is the nominal atom vec(a a^H) / M of eq 13."""
    grid = cfg.grid_deg
    m = cfg.num_elements
    f = np.asarray(subcarriers_hz, dtype=np.float64).ravel()
    b = np.asarray(manifold.steering(grid, f))  # [M, L, F]
    if b.shape != (m, grid.size, f.size):
        raise ValueError(
            f"the manifold gives steering {list(b.shape)}, the model needs {[m, grid.size, f.size]}"
        )
    x = prepare_input(np.transpose(b, (1, 0, 2))[:, :, None, :], cfg)  # [L, 1, K, 2M]
    z = (x[..., :m] + 1j * x[..., m:]).astype(np.complex128).reshape(grid.size, -1, m)
    r = np.einsum("lni,lnj->lij", z, z.conj()) / z.shape[1]  # R[i, j] = mean z_i conj(z_j)
    y = np.swapaxes(r, -1, -2).reshape(grid.size, m * m)  # vec(R), column stacking
    norm = np.linalg.norm(y, axis=1, keepdims=True)
    if not np.all(np.isfinite(y)) or np.min(norm) <= 0:
        raise ValueError("the manifold has no usable response on part of the model grid")
    return (y / norm).T


class MoDDNN(nn.Module):
    """The whole network: autoencoder -> coarray spectrum -> MoDL-SSR, per subregion."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.autoencoder = MultiTaskAutoencoder(cfg)
        self.coarray = CoarraySpectrum(cfg)
        self.ssr = MoDLSSR(cfg)
        self.bounds = cfg.subregion_bounds()
        self.register_buffer(
            "grid", torch.from_numpy(cfg.grid_deg.astype(np.float32)), persistent=False
        )

    def set_dictionary(self, manifold, subcarriers_hz: ArrayLike) -> None:
        """Use a measured manifold's coarray atoms (``calibrated_atoms``) in eqs 11-14; only
        for ``cfg.dictionary == "calibrated"`` (the atoms are then saved with the model)."""
        if not self.coarray.calibrated:
            raise ValueError('set_dictionary needs a model with dictionary="calibrated"')
        self.coarray.set_atoms(calibrated_atoms(manifold, subcarriers_hz, self.cfg))

    def forward(self, x: Tensor) -> Tensor:
        """Prepared input [B, S, K, 2M] -> reconstructed spectra eta^I [B, P, L_max]."""
        hp = self.autoencoder(x)
        eta_hat = self.coarray(hp)
        return self.ssr(eta_hat, self.coarray.proj, self.coarray.mask)

    def full_spectrum(self, eta: Tensor) -> Tensor:
        """[B, P, L_max] -> [B, L] on the whole grid (subregions side by side)."""
        return torch.cat([eta[:, i, : e - s] for i, (s, e) in enumerate(self.bounds)], dim=-1)

    def spectrum(self, h: ArrayLike | Tensor) -> Tensor:
        """CFR [B, M, S, K_cfr] -> spectrum [B, L] on ``cfg.grid_deg``."""
        return self.full_spectrum(self(prepare_cfr(h, self.cfg).to(self.grid.device)))

    @torch.no_grad()
    def estimate(self, h: ArrayLike | Tensor) -> NDArray[np.float64]:
        """CFR [B, M, S, K_cfr] or [M, S, K_cfr] -> AoA in degrees, [B]."""
        was = self.training
        self.eval()
        try:
            s = self.spectrum(h)
        finally:
            self.train(was)
        return peak_aoa(s, self.grid, self.cfg.peak_halfwidth_deg / self.cfg.grid_step_deg)


def peak_aoa(
    spectrum: Tensor | NDArray[np.floating],
    grid: Tensor | NDArray[np.floating],
    halfwidth_bins: float,
) -> NDArray[np.float64]:
    """Angle of the spectrum's maximum (spectrum [B, L] on grid [L]), refined by the centroid
    of max(spectrum, 0) within +-halfwidth_bins grid points of it."""

    def f64(v: Tensor | NDArray[np.floating]) -> NDArray[np.float64]:
        if isinstance(v, Tensor):
            v = v.detach().cpu().numpy()
        return np.asarray(v, dtype=np.float64)

    s, g = f64(spectrum), f64(grid)
    i = s.argmax(-1)
    w = int(round(halfwidth_bins))
    if w == 0:
        return g[i]
    pos = i[:, None] + np.arange(-w, w + 1)[None, :]
    valid = (pos >= 0) & (pos < s.shape[-1])
    idx = np.clip(pos, 0, s.shape[-1] - 1)
    vals = np.maximum(np.take_along_axis(s, idx, 1), 0.0) * valid
    tot = vals.sum(-1)
    cen = (vals * g[idx]).sum(-1) / np.maximum(tot, 1e-300)
    return np.where(tot > 0, cen, g[i])


def grid_index(aoa_deg: ArrayLike, cfg: ModelConfig) -> NDArray[np.int64]:
    """Nearest grid index of each angle (clipped to the grid)."""
    a = np.asarray(aoa_deg, dtype=np.float64)
    i = np.round((a - cfg.grid_start_deg) / cfg.grid_step_deg).astype(np.int64)
    return np.clip(i, 0, cfg.num_grid_points - 1)


def one_hot_targets(aoa_deg: ArrayLike, cfg: ModelConfig) -> Tensor:
    """Sparse labels of eq 31 (Section 4.3) laid out like the network output, [B, P, L_max].

    An angle on the grid gets the paper's one-hot label. With ``cfg.labels == "interpolated"``
    an angle between grid points i and i + 1, at fraction f of the step past i, gets 1 - f at
    i and f at i + 1 (still a unit-sum, two-sparse spectrum whose centroid is the angle), so a
    grid coarser than the training angles does not quantise what the network learns;
    ``"nearest"`` puts the whole peak on the nearest grid point.
    """
    bounds = cfg.subregion_bounds()
    lmax = max(e - s for s, e in bounds)
    a = np.atleast_1d(np.asarray(aoa_deg, dtype=np.float64))
    n = cfg.num_grid_points
    if cfg.labels == "nearest":
        lo = grid_index(a, cfg)
        frac = np.zeros(a.shape)
    else:
        pos = np.clip((a - cfg.grid_start_deg) / cfg.grid_step_deg, 0.0, n - 1.0)
        lo = np.minimum(np.floor(pos).astype(np.int64), n - 2)
        frac = pos - lo
        snap = frac < 1e-6  # on the grid: exactly one-hot
        lo = np.where(frac > 1 - 1e-6, lo + 1, lo)
        frac = np.where(snap | (frac > 1 - 1e-6), 0.0, frac)
    full = np.zeros((a.size, n))
    rows = np.arange(a.size)
    full[rows, lo] = 1.0 - frac
    hi = np.minimum(lo + 1, n - 1)
    full[rows, hi] += np.where(hi > lo, frac, 0.0)
    t = torch.zeros(a.size, len(bounds), lmax)
    for p, (s, e) in enumerate(bounds):
        t[:, p, : e - s] = torch.from_numpy(full[:, s:e]).float()
    return t


def spectrum_targets(
    aoa_deg: ArrayLike, cfg: ModelConfig, extra_paths: ArrayLike | None = None
) -> Tensor:
    """Labels of eq 31 with every known path: the LOS's one-hot (``one_hot_targets``) plus,
    for a CFR with a further path (``extra_paths`` [N, 2]: angle, power relative to the LOS),
    that path's one-hot scaled by its relative power (the paper's multi-source labels with the
    sources' powers, so the LOS stays the strongest peak)."""
    t = one_hot_targets(aoa_deg, cfg)
    if extra_paths is None:
        return t
    e = np.asarray(extra_paths, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(e[:, 0]))
    if rows.size:
        w = torch.from_numpy(np.clip(e[rows, 1], 0.0, 1.0)).float()[:, None, None]
        t[rows] += w * one_hot_targets(e[rows, 0], cfg)
    return t


def subregion_of(aoa_deg: ArrayLike, cfg: ModelConfig) -> NDArray[np.int64]:
    """Subregion index p of each angle (eq 10's partition)."""
    idx = grid_index(aoa_deg, cfg)
    starts = np.array([s for s, _ in cfg.subregion_bounds()])
    return np.searchsorted(starts, idx, side="right") - 1


def autoencoder_targets(
    x: Tensor,
    aoa_deg: ArrayLike,
    cfg: ModelConfig,
    x_part: Tensor | None = None,
    part_aoa_deg: ArrayLike | None = None,
) -> Tensor:
    """Eq 10: h~_p(k) = h~(k) in the angle's own subregion p, 0 elsewhere; [B, P, S, K, 2M].

    With ``x_part`` (the prepared share of a further path, ``prepare_input_with_part``, at
    ``part_aoa_deg``; NaN: none) eq 10 is applied per path: that share goes to its own
    subregion and the rest (the LOS and the noise) to the LOS's, so the targets still add up
    to the input and each subregion sees only its own sources.
    """
    p = torch.as_tensor(subregion_of(aoa_deg, cfg))
    sel = F.one_hot(p, cfg.num_subregions).to(x.dtype)  # [B, P]
    t = sel[:, :, None, None, None] * x[:, None]
    if x_part is None or part_aoa_deg is None:
        return t
    pa = np.asarray(part_aoa_deg, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(pa))
    if rows.size:
        q = torch.as_tensor(subregion_of(pa[rows], cfg))
        r = torch.as_tensor(rows)
        xp = x_part[r].to(x.dtype)
        t[r, p[r]] -= xp
        t[r, q] += xp
    return t


def mse_loss(eta: Tensor, target: Tensor) -> Tensor:
    """Eq 31, averaged over the batch: mean_d ||eta^I(d) - eta(d)||^2."""
    return ((eta - target) ** 2).sum(dim=(-1, -2)).mean()
