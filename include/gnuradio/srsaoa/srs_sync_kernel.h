/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_SRS_SYNC_KERNEL_H
#define INCLUDED_SRSAOA_SRS_SYNC_KERNEL_H

#include <complex>
#include <cstddef>
#include <cstdint>
#include <gnuradio/srsaoa/api.h>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace gr {
namespace srsaoa {

namespace detail {
/*! Allocator whose resize() leaves new elements uninitialised (they are written at once).
 */
template <typename T> struct no_init_allocator : std::allocator<T> {
    template <typename U> struct rebind {
        using other = no_init_allocator<U>;
    };
    no_init_allocator() = default;
    template <typename U> no_init_allocator(const no_init_allocator<U>&) noexcept {}
    template <typename U> void construct(U*) noexcept
    {
        // no value-initialisation (std::complex would zero itself): trivially copyable
        // samples, overwritten at once
        static_assert(std::is_trivially_copyable<U>::value, "samples only");
    }
    template <typename U, typename... Args> void construct(U* p, Args&&... args)
    {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
} // namespace detail

/*! One detected SRS slot. */
struct SRSAOA_API srs_detection {
    std::int64_t index; //!< first sample of the slot (stream sample index)
    double frac;        //!< fractional timing: true start = index + frac, |frac| <= 0.5
    double metric;      //!< normalised metric rho in [0, 1] at \p index
    double cfo_hz;      //!< carrier frequency offset estimate, Hz
    std::uint64_t occasion; //!< SRS occasion counter (counts periods while tracking)
};

/*!
 * \brief SRS slot synchroniser: acquisition by FFT cross-correlation, then tracking
 * (no GNU Radio types).
 *
 * The reference is the known slot waveform r (T samples, slot start at r[0]) of which
 * only the S segments [a_s, a_s + L_s) (the SRS symbols, CP included) are used. For a
 * candidate slot start n, channel m and segment s:
 *
 *   c_ms(n) = sum_i y_m[n + a_s + i] conj(r[a_s + i]),  E_ms(n) = sum_i |y_m[n + a_s +
 * i]|^2
 *
 *   rho(n) = sum_ms |c_ms(n)|^2 / ||r_s||^2  /  sum_ms E_ms(n)
 *
 * over the channels used (one reference channel, or all M: non-coherent combination).
 * For white complex Gaussian noise rho ~ Beta(a, b), a = Mc*S, b = Mc*(sum L_s - S),
 * so P(rho > eta) = sum_{j<a} C(a+b-1, j) eta^j (1-eta)^(a+b-1-j) exactly. The noise
 * (CFAR) thresholds set that tail to pfa / T for acquisition (T candidate starts per
 * slot) and to pfa / (H (2W+1)) for tracking (H predicted starts of 2W+1 candidates):
 * by the union bound at most pfa false detections per slot of noise. Each threshold in
 * use is max(noise threshold, min_metric): min_metric is a separate guard against other
 * UEs' SRS sequences (0 = none), and where it is the larger one the false-alarm rate is
 * below pfa (effective_pfa() reports the union bound at the thresholds in use).
 *
 * Acquisition evaluates rho at every sample with overlap-save FFT correlation (one
 * forward FFT per channel and block, one inverse per segment); after the first
 * crossing it takes the maximum over the next sum-span samples (the identical SRS
 * symbols give sidelobes one symbol apart). With a known period P > 0 it then
 * predicts the next start n + P and, in tracking, searches only the 2W+1 starts
 * around each prediction: a greedy ascent from the prediction (to a higher neighbour
 * while there is one within +-W; direct dot products, three candidates for a
 * stationary UE) whose maximum is compared with the threshold. The first prediction
 * confirms the period; a miss there, or max_misses misses in a row later, returns to
 * acquisition. The fractional timing is the vertex of a parabola through rho at
 * n-1, n, n+1; the CFO is the phase of sum c_m,s+1 conj(c_m,s) over the symbol
 * spacing (or over half a segment when S = 1).
 *
 * Unequal intervals: with numerology mu >= 2 the long CP every 0.5 ms makes the
 * intervals between SRS occasions alternate (at 60 kHz and one slot per period: two
 * values 16 x 2^mu / 2048 of the FFT size apart, 32 samples at FFT 1024). \p
 * period_pattern gives the intervals over one cycle; the tracker keeps the cycle phases
 * consistent with the detections so far and searches around each distinct prediction (one
 * once the phase is known).
 *
 * Counting: missed() is the number of occasions the tracker expected (a whole number of
 * intervals after a detection, in the same continuous stream) that gave no detection,
 * including those after the last detection up to the end of the stream (finish()) and
 * those inside a gap of known length (restart_after_gap()).
 *
 * Non-finite input samples count as zero (they cannot poison later detections);
 * nonfinite_count() reports how many were seen (tracking skips the samples outside its
 * windows and does not look at them). The Python twin is
 * gnuradio.srsaoa.nr.receiver.SrsSyncTwin.
 */
class SRSAOA_API srs_sync_kernel
{
public:
    using cplx = std::complex<float>;

    /*!
     * \param reference slot waveform (T >= 1 samples).
     * \param segment_starts a_s, start of each SRS symbol (with its CP) in the slot.
     * \param segment_lengths L_s (>= 2), a_s + L_s <= T, segments disjoint, increasing.
     * \param num_channels M (>= 1), the number of input streams.
     * \param ref_channel channel used for detection, or -1 for all (non-coherent).
     * \param period SRS period in samples (0 = unknown: acquisition only), at least the
     *        SRS symbols' span plus 2W + 4.
     * \param pfa false-detection probability per slot of noise, in (0, 0.5).
     * \param track_window W >= 0, tracking searches prediction +- W samples.
     * \param max_misses tracking misses in a row before re-acquisition (>= 1).
     * \param sample_rate samples per second (> 0), for the CFO in Hz.
     * \param min_metric guard in [0, 1): each threshold is at least this (0 = none).
     * \param period_pattern intervals between consecutive occasions over one cycle
     *        (each >= the minimum period; empty = every interval is \p period, > 0 to
     *        track). When given, \p period must be > 0 (occasion numbering after a
     *        re-acquisition uses it; the mean of the pattern, rounded, is the natural
     *        value).
     * \throws std::invalid_argument on an invalid parameter.
     */
    srs_sync_kernel(const std::vector<cplx>& reference,
                    const std::vector<int>& segment_starts,
                    const std::vector<int>& segment_lengths,
                    int num_channels,
                    int ref_channel,
                    std::int64_t period,
                    double pfa,
                    int track_window,
                    int max_misses,
                    double sample_rate,
                    double min_metric = 0.0,
                    const std::vector<std::int64_t>& period_pattern = {});
    ~srs_sync_kernel();
    srs_sync_kernel(const srs_sync_kernel&) = delete;
    srs_sync_kernel& operator=(const srs_sync_kernel&) = delete;

    /*! Append n samples of every channel (in[m][0..n)) and run the detector. */
    void process(const cplx* const* in, std::size_t n);

    /*! Detections found since the last call, in increasing index order. */
    std::vector<srs_detection> take_detections();

    /*! No detection will ever be reported at an index below this. */
    std::int64_t decided() const;
    /*! Number of samples fed so far (index of the next sample). */
    std::int64_t fed() const
    {
        return d_fed;
    }

    /*! Forget the past (rx_time jump of unknown size): acquisition from the next
     * sample; occasion counting starts afresh. No detection starts within one SRS span
     * (first to last SRS sample) of the restart point, nor within a span after a peak
     * found there: an occasion cut by the restart shows only its sidelobes there, and so
     * does one whose peak is not taken. */
    void restart();
    /*! A gap of \p missing_samples (>= 0) samples that never arrived lies before the
     * next sample: acquisition from the next sample, but the occasion numbering (and the
     * missed() count) continue across the gap. A negative value is restart(). */
    void restart_after_gap(std::int64_t missing_samples);
    /*! End of stream: nothing more will come, everything fed is decided. */
    void finish();
    /*! Pause (false: no detections, e.g. wrong sample rate) or resume (restarts). */
    void set_enabled(bool enabled);
    bool enabled() const
    {
        return d_enabled;
    }

    /*! P(rho > eta) for rho ~ Beta(a, b). */
    static double tail_probability(double eta, double a, double b);
    /*! eta with tail_probability(eta, a, b) = p (bisection). */
    static double threshold_for(double p, double a, double b);

    /*! Acquisition threshold in use: max(noise threshold, min_metric). */
    double acquisition_threshold() const
    {
        return d_eta_acq;
    }
    /*! Tracking threshold in use: max(noise threshold, min_metric). */
    double tracking_threshold() const
    {
        return d_eta_trk;
    }
    /*! Noise-only (CFAR) thresholds from pfa, before the min_metric guard. */
    double noise_acquisition_threshold() const
    {
        return d_noise_acq;
    }
    double noise_tracking_threshold() const
    {
        return d_noise_trk;
    }
    double min_metric() const
    {
        return d_min_metric;
    }
    double pfa() const
    {
        return d_pfa;
    }
    /*! False detections per slot of noise at the acquisition threshold in use (union
     * bound T P(rho > eta)): pfa when the noise threshold is in force, less when the
     * min_metric guard is. */
    double effective_pfa() const;
    /*! The same while tracking: H (2W + 1) P(rho > eta_trk). */
    double effective_tracking_pfa() const;
    /*! Occasions expected by the tracker but not detected (see the class notes). */
    std::uint64_t missed() const
    {
        return d_missed;
    }
    /*! Intervals between occasions over one cycle (a single value: equal intervals). */
    const std::vector<std::int64_t>& period_pattern() const
    {
        return d_pattern;
    }
    /*! 0 acquisition, 1 confirming the period, 2 tracking. */
    int state() const
    {
        return d_state;
    }
    std::uint64_t nonfinite_count() const
    {
        return d_nonfinite;
    }
    std::uint64_t restarts() const
    {
        return d_restarts;
    }
    int num_channels() const
    {
        return d_m;
    }
    std::int64_t period() const
    {
        return d_period;
    }
    std::size_t slot_length() const
    {
        return d_ref.size();
    }
    /*! Samples the detector looks ahead of a slot start before deciding (latency). */
    std::int64_t lookahead() const;
    /*! The same while tracking: the search window and the SRS symbols, 2W + 4 + b_max. */
    std::int64_t tracking_lookahead() const;

    /*! rho at candidate start n (for tests), NaN if n is not in the buffer. */
    double metric_at(std::int64_t n) const;

private:
    struct fft_state;
    std::vector<cplx> d_ref;
    std::vector<int> d_a, d_l;
    std::vector<double> d_rnorm; // ||r_s||^2
    int d_m;
    int d_ref_channel;
    std::vector<int> d_chans; // channels used for detection
    std::int64_t d_period;
    double d_pfa;
    int d_w;
    int d_max_misses;
    double d_fs;
    double d_min_metric;
    double d_eta_acq, d_eta_trk;
    double d_noise_acq, d_noise_trk;
    int d_hyp; // largest number of distinct predicted starts searched at once
    int d_a_min, d_b_max, d_span;

    // sample buffers of the used channels, and prefix energies, from d_base
    std::vector<std::vector<cplx, detail::no_init_allocator<cplx>>> d_buf;
    std::vector<std::vector<double>> d_pre; // d_pre[c][i] = sum_{j<i} |buf[c][j]|^2
    std::int64_t d_base;
    std::int64_t d_fed;

    // acquisition metric buffer
    std::vector<double> d_metric;
    std::int64_t d_mbase, d_mend, d_scan;

    int d_state;
    std::int64_t d_pred;                 // lowest predicted start of the next occasion
    std::int64_t d_pred_hi;              // highest (the same with equal intervals)
    std::vector<std::int64_t> d_pattern; // intervals over one cycle
    std::vector<char> d_phase_ok;        // cycle phases consistent with the detections
    std::int64_t d_anchor;               // last detection while tracking
    std::int64_t d_steps;                // occasions from d_anchor to the prediction
    std::uint64_t d_missed;
    bool d_continuous;  // numbering valid since the last detection
    std::int64_t d_gap; // samples missing (known gaps) since the last detection
    int d_misses;
    bool d_have_occ;
    std::uint64_t d_occasion;
    std::int64_t d_last_index;
    bool d_enabled;
    bool d_finished;
    bool d_use_pre; // prefix energies kept (acquisition); tracking computes windows
                    // directly
    std::uint64_t d_nonfinite;
    std::uint64_t d_restarts;
    std::int64_t d_acq_guard; // after a restart: no detection below this start
    std::vector<srs_detection> d_out;
    std::unique_ptr<fft_state> d_fft;

    void run();
    void append(const cplx* const* in, std::size_t from, std::size_t n);
    bool acquire_step();
    bool track_step();
    bool compute_metric_block();
    double eval_direct(std::int64_t n, std::vector<cplx>* corr) const;
    void emit(std::int64_t n);
    void emit_values(std::int64_t n,
                     const std::vector<cplx>& corr,
                     double rm,
                     double r0,
                     double rp,
                     std::int64_t advance);
    std::int64_t advance_since_last(std::int64_t n) const;
    std::int64_t pattern_spread() const;
    void set_predictions();
    bool ascend(std::int64_t pred,
                std::int64_t& best,
                double& rm,
                double& r0,
                double& rp,
                std::vector<cplx>& corr_best);
    void trim();
    void set_prefix(bool on);
    double energy(std::size_t c, std::int64_t from, std::int64_t to) const;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_SRS_SYNC_KERNEL_H */
