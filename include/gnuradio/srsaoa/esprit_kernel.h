/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_ESPRIT_KERNEL_H
#define INCLUDED_SRSAOA_ESPRIT_KERNEL_H

#include <complex>
#include <gnuradio/srsaoa/api.h>
#include <vector>

namespace gr {
namespace srsaoa {

/*! One ESPRIT estimate: paths sorted by power, strongest first. */
struct esprit_estimate {
    int order = 0;               //!< paths asked for (AIC/MDL or fixed)
    std::vector<double> aoa_deg; //!< angles, degrees
    std::vector<double> power;   //!< least-squares path powers (units of R)
    std::vector<double> crb_deg; //!< stochastic CRB of each angle (empty: unknown N)
    double noise_power = 0.0;    //!< sigma^2, mean of the M - d smallest eigenvalues
    double snr_db = 0.0;         //!< total path power over sigma^2 (NaN for order 0)
};

/*!
 * \brief AIC/MDL channel order and ESPRIT on a spatial covariance (no GNU Radio types).
 *
 * The C++ twin of gnuradio.srsaoa.estimation.order.estimate_order (Wax and Kailath
 * AIC/MDL, lowered while the weakest signal eigenvalue is below 2 x the
 * Marchenko-Pastur noise edge) and estimation.doa.estimate(method="esprit") on a
 * covariance: signal subspace of the Hermitian part of R, TLS (or LS) rotation between
 * the two (M-1)-element subarrays, angles inside the field of view, duplicated /
 * ill-conditioned paths pruned (steering condition number <= 30, least-squares power
 * <= 4 x the received power per element), powers by SVD least squares, SNR and the
 * stochastic Cramer-Rao bound. The Python functions are the oracle its tests compare
 * with (DESIGN section 9 for the guards).
 *
 * R is M x M, row-major. All functions throw std::invalid_argument where the Python
 * twin raises ValueError (non-finite or all-zero R, order out of range, N < 1).
 */
class SRSAOA_API esprit_kernel
{
public:
    using cplx = std::complex<double>;

    /*! \p spacing_wavelengths d/lambda > 0; field of view [fov_min, fov_max] degrees. */
    esprit_kernel(double spacing_wavelengths,
                  bool tls = true,
                  double fov_min_deg = -90.0,
                  double fov_max_deg = 90.0);

    /*! AIC (\p mdl false) or MDL order of R from N snapshots, 0..M-1. */
    static int estimate_order(const std::vector<cplx>& r,
                              int m,
                              double n_snapshots,
                              bool mdl = false,
                              bool guard = true);

    /*!
     * \brief ESPRIT with \p order paths (0: an empty estimate). \p n_snapshots <= 0 means
     * unknown: no CRB.
     */
    esprit_estimate
    estimate(const std::vector<cplx>& r, int m, int order, double n_snapshots);

    double spacing_wavelengths() const
    {
        return d_spacing;
    }

private:
    double d_spacing;
    bool d_tls;
    double d_fov_min, d_fov_max;
};

/*! One 2D-ESPRIT estimate: paths sorted by power, strongest first. */
struct esprit2d_estimate {
    int order = 0;               //!< paths asked for (AIC/MDL or fixed)
    std::vector<double> aoa_deg; //!< angles, degrees
    std::vector<double> delay_s; //!< delays, seconds, in [-1/(2 df), 1/(2 df))
    std::vector<double> power;   //!< least-squares path powers mean_s |g_{p,s}|^2
    std::vector<double> crb_deg; //!< stochastic CRB of each angle (empty: not defined)
    double noise_power = 0.0;    //!< sigma^2 from the spatial covariance's eigenvalues
    double snr_db = 0.0;         //!< total path power over sigma^2 (NaN for order 0)
};

/*!
 * \brief Joint angle-delay 2D-ESPRIT on one CFR H[m, s, k] (no GNU Radio types).
 *
 * The C++ twin of gnuradio.srsaoa.estimation.doa.estimate(method="2d-esprit") with
 * n_snapshots = S K: space-frequency Hankel stacking with smoothing factor P (0: M P
 * about 64, at most K/2), forward-backward averaged stacked covariance, signal subspace,
 * TLS (or LS) rotations for the antenna and the subcarrier shift, joint diagonalisation
 * pairing every angle with its delay, least-squares path powers on the CFR, noise power
 * and SNR from the spatial covariance, stochastic CRB. The Python function is the oracle
 * its tests compare with. Throws std::invalid_argument where it raises ValueError.
 */
class SRSAOA_API esprit2d_kernel
{
public:
    using cplx = std::complex<double>;

    esprit2d_kernel(double spacing_wavelengths,
                    bool tls = true,
                    double fov_min_deg = -90.0,
                    double fov_max_deg = 90.0,
                    int smoothing = 0);

    /*!
     * \param h the CFR, M*S*K complex values in C order [m][s][k].
     * \param freqs_hz the K subcarrier frequencies (uniformly spaced).
     * \param order paths (>= 0); -1: AIC (or MDL with \p mdl) on the spatial covariance.
     */
    esprit2d_estimate estimate(const std::complex<float>* h,
                               int m,
                               int s,
                               int k,
                               const std::vector<double>& freqs_hz,
                               int order,
                               bool mdl = false) const;

    /*! P = max(2, min(K / 2, max(2, 64 / M))). */
    static int default_smoothing(int m, int k);

private:
    double d_spacing;
    bool d_tls;
    double d_fov_min, d_fov_max;
    int d_smoothing;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_ESPRIT_KERNEL_H */
