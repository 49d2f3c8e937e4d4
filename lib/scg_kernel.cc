/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <algorithm>
#include <cmath>
#include <gnuradio/srsaoa/scg_kernel.h>
#include <limits>
#include <stdexcept>
#include <vector>

namespace gr {
namespace srsaoa {

namespace {
double dot(const double* x, const double* y, std::size_t n)
{
    double s = 0.0;
    for (std::size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

void matvec(const double* a, const double* x, double* y, std::size_t n)
{
    for (std::size_t i = 0; i < n; i++)
        y[i] = dot(a + i * n, x, n);
}
} // namespace

void scg_solve(const double* a,
               const double* b,
               double* eta,
               std::size_t batch,
               std::size_t branches,
               std::size_t n,
               double eps,
               double mu,
               int iterations,
               double tol,
               bool sparsity)
{
    if (iterations < 0)
        throw std::invalid_argument("scg_solve: iterations must be >= 0");
    if (!(eps > 0.0))
        throw std::invalid_argument("scg_solve: eps must be > 0");
    if (!(mu >= 0.0) || !(tol >= 0.0))
        throw std::invalid_argument("scg_solve: mu and tol must be >= 0");
    const double tiny = std::numeric_limits<double>::min();
    const std::size_t items = batch * branches, total = items * n;
    // all items advance together (the twin's stopping rule looks at all of them)
    std::vector<double> g(total), c(total), ac(n), nw(n), gn(n);
    for (std::size_t i = 0; i < total; i++) {
        eta[i] = 0.0;
        g[i] = -b[i];
        c[i] = b[i];
    }
    for (int it = 0; it < iterations; it++) {
        double change = 0.0;
        for (std::size_t j = 0; j < items; j++) {
            const double* aj = a + (j % branches) * n * n;
            const double* bj = b + j * n;
            double* xj = eta + j * n;
            double* gj = g.data() + j * n;
            double* cj = c.data() + j * n;
            matvec(aj, cj, ac.data(), n);
            const double alpha = -dot(gj, cj, n) / (dot(cj, ac.data(), n) + tiny);
            for (std::size_t i = 0; i < n; i++)
                nw[i] = xj[i] + alpha * cj[i];
            if (sparsity) {
                double l1 = 0.0;
                for (std::size_t i = 0; i < n; i++)
                    l1 += std::abs(xj[i]);
                const double step = mu / (1.0 + eps * l1);
                for (std::size_t i = 0; i < n; i++)
                    nw[i] -= step * static_cast<double>((xj[i] > 0.0) - (xj[i] < 0.0));
            }
            matvec(aj, nw.data(), gn.data(), n);
            for (std::size_t i = 0; i < n; i++)
                gn[i] -= bj[i];
            double num = 0.0;
            for (std::size_t i = 0; i < n; i++)
                num += (gn[i] - gj[i]) * gn[i];
            const double beta = num / (dot(gj, gj, n) + tiny);
            for (std::size_t i = 0; i < n; i++) {
                cj[i] = -gn[i] + beta * cj[i];
                change = std::max(change, std::abs(nw[i] - xj[i]));
                xj[i] = nw[i];
                gj[i] = gn[i];
            }
        }
        if (tol > 0.0 && change < tol)
            break;
    }
}

} // namespace srsaoa
} // namespace gr
