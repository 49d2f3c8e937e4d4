/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <cmath>
#include <gnuradio/srsaoa/covariance_kernel.h>
#include <stdexcept>
#include <string>

namespace gr {
namespace srsaoa {

covariance_kernel::covariance_kernel(int num_elements,
                                     bool forward_backward,
                                     double forgetting)
    : d_m(num_elements), d_fb(forward_backward), d_lambda(forgetting), d_weight(0.0),
      d_occasions(0)
{
    if (num_elements < 1) {
        throw std::invalid_argument("covariance_kernel: num_elements must be >= 1, got " +
                                    std::to_string(num_elements));
    }
    if (!(forgetting >= 0.0 && forgetting < 1.0)) {
        throw std::invalid_argument(
            "covariance_kernel: forgetting must be in [0, 1), got " +
            std::to_string(forgetting));
    }
    d_acc.assign(static_cast<std::size_t>(d_m) * d_m, 0.0);
}

bool covariance_kernel::add(const cplx* cfr,
                            std::size_t n_values,
                            std::size_t num_symbols,
                            std::size_t num_subcarriers)
{
    const std::size_t m = static_cast<std::size_t>(d_m);
    const std::size_t n_snap = num_symbols * num_subcarriers;
    if (n_snap == 0 || n_values != m * n_snap) {
        return false;
    }
    for (std::size_t i = 0; i < n_values; i++) {
        if (!std::isfinite(cfr[i].real()) || !std::isfinite(cfr[i].imag())) {
            return false;
        }
    }
    if (d_lambda > 0.0) {
        for (auto& v : d_acc) {
            v *= d_lambda;
        }
        d_weight *= d_lambda;
    }
    // A[i][j] += sum_n h_i[n] conj(h_j[n]); rows of H are contiguous in n = s*K + k.
    for (std::size_t i = 0; i < m; i++) {
        const cplx* hi = cfr + i * n_snap;
        for (std::size_t j = i; j < m; j++) {
            const cplx* hj = cfr + j * n_snap;
            std::complex<double> s = 0.0;
            for (std::size_t n = 0; n < n_snap; n++) {
                s += std::complex<double>(hi[n]) * std::conj(std::complex<double>(hj[n]));
            }
            d_acc[i * m + j] += s;
            if (j != i) {
                d_acc[j * m + i] += std::conj(s);
            }
        }
    }
    d_weight += static_cast<double>(n_snap);
    d_occasions++;
    return true;
}

std::vector<covariance_kernel::cplx> covariance_kernel::read_out()
{
    const std::size_t m = static_cast<std::size_t>(d_m);
    std::vector<cplx> r(m * m, cplx(0.0f, 0.0f));
    if (d_weight > 0.0) {
        for (std::size_t i = 0; i < m; i++) {
            for (std::size_t j = 0; j < m; j++) {
                std::complex<double> v = d_acc[i * m + j] / d_weight;
                if (d_fb) {
                    // (J conj(R) J)[i][j] = conj(R[M-1-i][M-1-j])
                    v = 0.5 *
                        (v + std::conj(d_acc[(m - 1 - i) * m + (m - 1 - j)] / d_weight));
                }
                r[i * m + j] =
                    cplx(static_cast<float>(v.real()), static_cast<float>(v.imag()));
            }
        }
    }
    if (d_lambda == 0.0) {
        reset();
    }
    return r;
}

void covariance_kernel::reset()
{
    for (auto& v : d_acc) {
        v = 0.0;
    }
    d_weight = 0.0;
    d_occasions = 0;
}

} // namespace srsaoa
} // namespace gr
