"""Sparse conjugate-gradient (SCG) layer: Algorithm 1 of the MoD-DNN paper (eqs 21-29).

Solves the normal equation (21), (P + lambda I) eta = b with b = eta_hat + lambda z,
by conjugate gradients (22a-d), adding after every CG update the reweighted
zero-attracting step of eqs 26-29,

    eta(n+1) = eta(n) + alpha(n) c(n) - mu sgn(eta(n)) / (1 + epsilon ||eta(n)||_1).

Every step is closed form, so autograd differentiates through the unrolled iterations
(end-to-end training, eq 32). Two readings of Algorithm 1 are made explicit here:
the step size divides by c^T (P + lambda I) c, the matrix of the system being solved
(with P alone CG would not solve eq 21), and line 4 evaluates the gradient at the new
iterate eta(n+1), as CG requires. mu is eq 26's weight (Algorithm 1 writes it as 1).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _matvec(p: Tensor, x: Tensor) -> Tensor:
    """x @ P for x [..., L] and symmetric P [L, L] or per-branch P [Pb, L, L] with x [B, Pb, L]."""
    if p.dim() == 2:
        return x @ p
    return torch.einsum("...pl,plm->...pm", x, p)


def scg_solve(
    p: Tensor,
    b: Tensor,
    lam: float | Tensor,
    eps: float = 0.5,
    mu: float | Tensor = 0.0,
    iterations: int = 8,
    tol: float = 0.0,
    sparsity: bool = True,
) -> Tensor:
    """Algorithm 1: approximately solve (P + lam I) eta = b, eta(0) = 0.

    p: [L, L] or [Pb, L, L] real symmetric positive semi-definite; b: [..., L] (with
    [..., Pb, L] for a per-branch P). With ``sparsity=False`` (or mu = 0) this is plain
    CG, exact after L iterations in exact arithmetic. Returns eta with b's shape.
    """
    tiny = torch.finfo(b.dtype).tiny
    eta = torch.zeros_like(b)
    g = -b  # (P + lam I) 0 - b
    c = b
    for _ in range(int(iterations)):
        ac = _matvec(p, c) + lam * c
        alpha = -(g * c).sum(-1, keepdim=True) / ((c * ac).sum(-1, keepdim=True) + tiny)
        new = eta + alpha * c
        if sparsity:
            l1 = eta.abs().sum(-1, keepdim=True)
            new = new - mu * torch.sign(eta) / (1.0 + eps * l1)
        g_new = _matvec(p, new) + lam * new - b
        beta = ((g_new - g) * g_new).sum(-1, keepdim=True) / ((g * g).sum(-1, keepdim=True) + tiny)
        c = -g_new + beta * c
        done = tol > 0 and bool((new - eta).abs().max() < tol)
        eta, g = new, g_new
        if done:
            break
    return eta
