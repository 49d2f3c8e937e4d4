/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_SCG_KERNEL_H
#define INCLUDED_SRSAOA_SCG_KERNEL_H

#include <cstddef>
#include <gnuradio/srsaoa/api.h>

namespace gr {
namespace srsaoa {

/*!
 * \brief Sparse conjugate gradients of MoD-DNN (Algorithm 1, eqs 21-29) for inference.
 *
 * For every batch item and branch, approximately solves A eta = b with A = P + lambda I
 * (symmetric, given whole), eta(0) = 0, by \p iterations conjugate-gradient steps, each
 * followed (when \p sparsity) by the reweighted zero-attracting step
 *
 *   eta(n+1) <- eta(n+1) - mu sgn(eta(n)) / (1 + eps ||eta(n)||_1).
 *
 * With \p tol > 0 all items stop together once no entry of any item changed by tol or
 * more in a step. The Python twin (and the differentiable training version) is
 * gnuradio.srsaoa.moddnn.scg.scg_solve; this one serves single-CFR inference, where the
 * per-operation cost of numpy or PyTorch would dominate a 31-point system.
 *
 * \param a system matrices, [branches][n][n], row-major.
 * \param b right-hand sides, [batch][branches][n].
 * \param eta solutions, same layout as \p b (written).
 * \throws std::invalid_argument on negative iterations, non-positive eps, negative mu
 * or tol.
 */
SRSAOA_API void scg_solve(const double* a,
                          const double* b,
                          double* eta,
                          std::size_t batch,
                          std::size_t branches,
                          std::size_t n,
                          double eps,
                          double mu,
                          int iterations,
                          double tol,
                          bool sparsity);

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_SCG_KERNEL_H */
