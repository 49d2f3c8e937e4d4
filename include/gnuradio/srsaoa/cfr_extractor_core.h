/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_H
#define INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_H

#include <cstdint>
#include <gnuradio/srsaoa/api.h>
#include <gnuradio/sync_block.h>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief CFR extractor: at every \p srs_start tag (input 0), the least-squares channel
 * frequency response of the SRS occasion as a CFR PDU on \p cfr.
 * \ingroup srsaoa
 *
 * \details
 * The standard-free core; gnuradio.srsaoa.cfr_extractor builds it from CarrierConfig /
 * SRSConfig dicts. Per occasion it removes the CP, FFTs only the S SRS symbols of the
 * M channels, takes the K SRS resource elements and divides by the known sequence
 * (cfr_kernel), optionally removes the CFO of the tag and applies the calibration.
 * Between SRS symbols it only consumes input.
 *
 * Output \p cfr, one PDU per occasion (DESIGN section 6): meta \p srs_occasion,
 * \p sample_index (slot start), \p rx_time (UHD (secs, frac) tuple, only when the
 * stream carries rx_time tags), \p shape = [M, S, K] (s32vector), \p subcarriers
 * (grid k of each column, s32vector), \p scs_hz, \p snr_db (per RE, from the empty
 * REs), \p cfo_hz (of the tag), \p fractional_offset; c32 vector H[m][s][k].
 *
 * In \p ack: acknowledgements for the flow control of set_flow_control().
 *
 * An occasion whose samples contain NaN/Inf gives no PDU (one warning per burst); an
 * \p rx_rate tag different from \p sample_rate suppresses PDUs until it matches again.
 * An \p rx_freq tag with a new frequency (a retune) while a calibration is set logs a
 * warning: the N310 re-randomises its inter-channel phases at every tune, so the
 * calibration no longer holds (srsaoa calibrate again).
 *
 * Gaps: an \p rx_time tag that disagrees with the previous one by more than half a
 * sample (UHD overflow, a recording's capture gap) inside an occasion's FFT windows
 * drops that occasion (num_gap_dropped(), also in num_dropped()): a CFR is never made of
 * samples from both sides of a gap. (srs_sync never tags such an occasion; this is the
 * extractor's own guard.)
 *
 * Thread safety: the setters and the counters may be called from any thread while the
 * flowgraph runs (setters under the block's mutex, counters atomic).
 */
class SRSAOA_API cfr_extractor_core : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<cfr_extractor_core> sptr;

    /*!
     * \param num_channels M input streams (>= 1).
     * \param fft_size N.
     * \param window_offsets start of each SRS symbol's useful part (after its CP)
     *        relative to the slot start, samples.
     * \param subcarriers grid subcarrier k of each SRS RE column (PDU meta).
     * \param subcarrier_bins FFT bin of each SRS subcarrier.
     * \param sequence known SRS values, S*K, C order [s][k].
     * \param noise_bins FFT bins without SRS for the noise estimate (may be empty).
     * \param cp_backoff samples the FFT window starts early, inside the CP (>= 0).
     * \param scs_hz subcarrier spacing, Hz (PDU meta).
     * \param sample_rate Hz.
     * \param cfo_correction remove the CFO of the srs_start tag before the FFT.
     * \param calibration empty, M or M*K complex multipliers applied to H.
     */
    static sptr make(int num_channels,
                     int fft_size,
                     const std::vector<int>& window_offsets,
                     const std::vector<int>& subcarriers,
                     const std::vector<int>& subcarrier_bins,
                     const std::vector<gr_complex>& sequence,
                     const std::vector<int>& noise_bins,
                     int cp_backoff,
                     double scs_hz,
                     double sample_rate,
                     bool cfo_correction,
                     const std::vector<gr_complex>& calibration);

    virtual void set_calibration(const std::vector<gr_complex>& calibration) = 0;
    virtual void set_cfo_correction(bool on) = 0;
    virtual bool cfo_correction() const = 0;
    /*! CFR PDUs published so far. */
    virtual std::uint64_t num_cfrs() const = 0;
    /*! Occasions dropped (non-finite samples, wrong rate, a gap inside). */
    virtual std::uint64_t num_dropped() const = 0;
    /*! Occasions dropped because an rx_time discontinuity lies inside them. */
    virtual std::uint64_t num_gap_dropped() const = 0;
    /*! rx_freq changes (retunes) seen; each one invalidates the phase calibration. */
    virtual std::uint64_t num_retunes() const = 0;

    /*!
     * \brief Credit-based flow control for recordings (docs/performance.md).
     *
     * With \p window > 0 the block consumes no input (and so holds the source back
     * through the stream buffers) while \p window or more of the CFRs it published are
     * not yet acknowledged by all \p consumers. An acknowledgement on the \p ack port is
     * a dict {consumer: name, sample_index: X}: that consumer (a result_sink at the end
     * of one estimator branch) has finished every occasion up to sample X. \p window 0
     * (the default, a live radio) never holds back.
     */
    virtual void set_flow_control(int window, int consumers) = 0;
    /*! CFRs published and not yet acknowledged by every consumer. */
    virtual std::uint64_t num_in_flight() const = 0;
    /*! work() calls that held the stream back for want of credit. */
    virtual std::uint64_t num_held() const = 0;
    /*! The most CFRs ever in flight (at most the window plus one work call's CFRs). */
    virtual std::uint64_t max_in_flight() const = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_H */
