/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_CFR_KERNEL_H
#define INCLUDED_SRSAOA_CFR_KERNEL_H

#include <complex>
#include <cstddef>
#include <gnuradio/srsaoa/api.h>
#include <memory>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief Least-squares channel frequency response of one SRS occasion (no GNU Radio
 * types).
 *
 * For every channel m and SRS symbol s the kernel takes the N = fft_size samples that
 * start window_offsets[s] samples after the slot start (the symbol's useful part,
 * i.e. after its CP, moved cp_backoff samples back into the CP), optionally removes
 * the CFO, y[n] * exp(-j 2 pi cfo (t_n) / fs) with t_n counted from the slot start,
 * takes the unitary DFT Y[b] = N^-1/2 sum_n y[n] exp(-j 2 pi b n / N), and forms
 *
 *   H[m, s, k] = c[m, k] * Y_ms[b_k] * exp(+j 2 pi f_k beta / N) / X[s, k]
 *
 * with b_k the FFT bin of SRS subcarrier k, f_k its signed frequency index, beta the
 * CP back-off, X the known SRS sequence and c the optional calibration multipliers
 * (none, one per channel, or one per channel and subcarrier). The per-RE SNR is
 *
 *   snr = (mean |Y[b_k]|^2 - P_n) / P_n,   P_n = mean |Y[b]|^2 over the noise bins
 *
 * (resource elements inside the SRS band that no SRS port uses), per DESIGN section 3.
 *
 * The Python twin is gnuradio.srsaoa.nr.receiver.cfr_twin.
 */
class SRSAOA_API cfr_kernel
{
public:
    using cplx = std::complex<float>;

    /*!
     * \param num_channels M >= 1.
     * \param fft_size N >= 16.
     * \param window_offsets start of each SRS symbol's FFT window relative to the slot
     *        start, samples (CP already removed, back-off not yet applied); S >= 1.
     * \param subcarrier_bins FFT bin (0..N-1) of each of the K SRS subcarriers.
     * \param sequence known SRS values X[s, k], S*K, C order, all non-zero.
     * \param noise_bins FFT bins without any SRS, for the noise power (may be empty:
     *        then the SNR is NaN).
     * \param cp_backoff beta >= 0 samples, at most the shortest CP of the SRS symbols
     *        (the FFT window starts beta samples early; its phase ramp is removed).
     * \param sample_rate fs > 0, Hz.
     * \param calibration empty, M or M*K multipliers applied to H.
     * \throws std::invalid_argument on an invalid parameter.
     */
    cfr_kernel(int num_channels,
               int fft_size,
               const std::vector<int>& window_offsets,
               const std::vector<int>& subcarrier_bins,
               const std::vector<cplx>& sequence,
               const std::vector<int>& noise_bins,
               int cp_backoff,
               double sample_rate,
               const std::vector<cplx>& calibration);
    ~cfr_kernel();
    cfr_kernel(const cfr_kernel&) = delete;
    cfr_kernel& operator=(const cfr_kernel&) = delete;

    /*!
     * \brief Estimate H from one slot.
     * \param win win[m] points to S*N samples of channel m: the S FFT windows (each
     *        starting at window_start(s)) one after the other.
     * \param cfo_hz CFO to remove (0 for none).
     * \param h_out M*S*K values, C order [m][s][k].
     * \param snr_db the per-RE SNR estimate (NaN without noise bins).
     * \return false (h_out undefined) if any input sample is not finite.
     */
    bool estimate(const cplx* const* win, double cfo_hz, cplx* h_out, double& snr_db);

    /*!
     * \brief The same with a pointer per FFT window: sym[m * S + s] points to the N
     * samples of channel m's window s (e.g. straight into a stream buffer).
     */
    bool
    estimate_windows(const cplx* const* sym, double cfo_hz, cplx* h_out, double& snr_db);

    /*! First sample of symbol s's FFT window relative to the slot start. */
    int window_start(std::size_t s) const
    {
        return d_offsets[s] - d_backoff;
    }
    /*! One past the last sample any window uses, relative to the slot start. */
    int span_end() const;

    /*! Replace the calibration (empty, M or M*K multipliers). */
    void set_calibration(const std::vector<cplx>& calibration);

    int num_channels() const
    {
        return d_m;
    }
    int fft_size() const
    {
        return d_n;
    }
    std::size_t num_symbols() const
    {
        return d_offsets.size();
    }
    std::size_t num_subcarriers() const
    {
        return d_bins.size();
    }

private:
    struct fft_state;
    int d_m, d_n;
    std::vector<int> d_offsets, d_bins, d_noise;
    int d_backoff;
    double d_fs;
    std::vector<cplx> d_w;   // S*K: exp(+j 2 pi f_k beta / N) / X[s,k]
    std::vector<cplx> d_cal; // M*K, empty = none
    std::vector<cplx> d_ws;  // d_w / sqrt(N)
    std::vector<cplx> d_y;   // gathered REs of one FFT
    std::unique_ptr<fft_state> d_fft;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_CFR_KERNEL_H */
