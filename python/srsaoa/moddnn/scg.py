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

from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

# One implementation for autograd (torch tensors, training) and for the lowered numpy
# inference engine (moddnn.lowered): only operations both libraries spell the same way.
Array = TypeVar("Array", Tensor, np.ndarray)


def _matvec(a: Array, x: Array) -> Array:
    """x @ A: A [L, L] with x [..., L], or per-branch A [Pb, L, L] with x [Pb, ..., L]."""
    return x @ a


def _sum(x: Array) -> Array:
    """Sum over the last axis, kept as a length-1 axis (numpy's ufunc directly: the ndarray
    method's Python wrapper costs more than the sum of a few hundred values)."""
    if isinstance(x, Tensor):
        return x.sum(-1, keepdim=True)
    return np.add.reduce(x, -1, keepdims=True)


def _dot(a: Array, b: Array) -> Array:
    return _sum(a * b)


def scg_solve(
    p: Array,
    b: Array,
    lam: float | Tensor,
    eps: float = 0.5,
    mu: float | Tensor = 0.0,
    iterations: int = 8,
    tol: float = 0.0,
    sparsity: bool = True,
) -> Array:
    """Algorithm 1: approximately solve (P + lam I) eta = b, eta(0) = 0.

    p: [L, L] or [Pb, L, L] real symmetric positive semi-definite; b: [..., L] (with
    [..., Pb, L] for a per-branch P); torch tensors or numpy arrays. With
    ``sparsity=False`` (or mu = 0) this is plain CG, exact after L iterations in exact
    arithmetic. Returns eta with b's shape.
    """
    xp = torch if isinstance(b, Tensor) else np
    tiny = xp.finfo(b.dtype).tiny
    a = p + lam * xp.eye(p.shape[-1], dtype=p.dtype)  # the system matrix P + lam I
    per_branch = p.ndim == 3
    if per_branch:  # branches first, [Pb, ..., L]: each product is one batched matmul
        b = xp.moveaxis(b, -2, 0)
    eta = xp.zeros_like(b)
    g = -b  # (P + lam I) 0 - b
    c = b
    for _ in range(int(iterations)):
        ac = _matvec(a, c)
        alpha = -_dot(g, c) / (_dot(c, ac) + tiny)
        new = eta + alpha * c
        if sparsity:
            l1 = _sum(abs(eta))
            new = new - mu * xp.sign(eta) / (1.0 + eps * l1)
        g_new = _matvec(a, new) - b
        beta = _dot(g_new - g, g_new) / (_dot(g, g) + tiny)
        c = -g_new + beta * c
        done = tol > 0 and bool(abs(new - eta).max() < tol)
        eta, g = new, g_new
        if done:
            break
    return xp.moveaxis(eta, 0, -2) if per_branch else eta
