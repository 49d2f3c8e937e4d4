/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_COVARIANCE_KERNEL_H
#define INCLUDED_SRSAOA_COVARIANCE_KERNEL_H

#include <complex>
#include <cstddef>
#include <cstdint>
#include <gnuradio/srsaoa/api.h>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief Spatial covariance of channel-frequency-response snapshots (no GNU Radio types).
 *
 * Every column h = H[:, s, k] of a CFR H[m][s][k] (M elements, S SRS symbols, K SRS
 * subcarriers, C order) is one snapshot. The kernel keeps the weighted sums
 *
 *   A <- lambda * A + sum_{s,k} h h^H,      W <- lambda * W + S * K
 *
 * and reports R = A / W. With lambda = 0 the sums restart after every read-out
 * (block averaging over the occasions since the last read-out); with 0 < lambda < 1
 * older occasions fade by lambda per occasion (exponential forgetting). Optional
 * forward-backward averaging returns (R + J conj(R) J) / 2, J the exchange matrix.
 *
 * The Python twin is gnuradio.srsaoa.estimation.covariance.CovarianceAccumulator.
 */
class SRSAOA_API covariance_kernel
{
public:
    using cplx = std::complex<float>;

    /*!
     * \param num_elements M, the number of array elements (>= 1).
     * \param forward_backward apply forward-backward averaging on read-out.
     * \param forgetting lambda in [0, 1): 0 = block averaging, else exponential.
     * \throws std::invalid_argument on an out-of-range parameter.
     */
    covariance_kernel(int num_elements, bool forward_backward, double forgetting);

    /*!
     * \brief Accumulate one occasion's CFR, M x S x K values in C order.
     * \return false (and leave the state untouched) if n_values != M*S*K, S*K == 0,
     *         or any value is not finite.
     */
    bool add(const cplx* cfr,
             std::size_t n_values,
             std::size_t num_symbols,
             std::size_t num_subcarriers);

    /*! \brief R (M x M, row-major), forward-backward averaged if configured.
     *  In block mode (lambda = 0) this also restarts the sums. */
    std::vector<cplx> read_out();

    /*! Effective snapshot count W behind the current sums. */
    double num_snapshots() const
    {
        return d_weight;
    }
    /*! Occasions accumulated since the last restart. */
    std::uint64_t num_occasions() const
    {
        return d_occasions;
    }
    int num_elements() const
    {
        return d_m;
    }
    bool forward_backward() const
    {
        return d_fb;
    }
    double forgetting() const
    {
        return d_lambda;
    }

    /*! Forget everything. */
    void reset();

private:
    int d_m;
    bool d_fb;
    double d_lambda;
    std::vector<std::complex<double>> d_acc; // M x M, row-major, double for long runs
    double d_weight;
    std::uint64_t d_occasions;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_COVARIANCE_KERNEL_H */
