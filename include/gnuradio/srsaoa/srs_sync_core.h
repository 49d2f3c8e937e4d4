/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_SRS_SYNC_CORE_H
#define INCLUDED_SRSAOA_SRS_SYNC_CORE_H

#include <cstdint>
#include <gnuradio/block.h>
#include <gnuradio/srsaoa/api.h>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief SRS slot synchroniser: M streams in, the same M streams out, with an
 * \p srs_start tag on the first sample of every detected SRS slot.
 * \ingroup srsaoa
 *
 * \details
 * The standard-free core of the synchroniser; gnuradio.srsaoa.srs_sync builds it from
 * CarrierConfig / SRSConfig dicts. Detection, thresholds and tracking are those of
 * srs_sync_kernel: FFT cross-correlation against the SRS symbols of the known slot
 * waveform, normalised metric rho in [0, 1], then tracking of the SRS period in a
 * +-\p track_window window around each predicted start. Two terms set each threshold,
 * both parameters and both reported: the noise (CFAR) threshold from the false-alarm
 * probability \p pfa per slot of noise, and the guard \p min_metric against other UEs'
 * SRS sequences; the larger one is used (docs/frontend.md tabulates measured Pfa and Pd
 * for both).
 *
 * Output: the input samples unchanged, item for item (sample index n out = sample
 * index n in), delayed internally until the detector has decided (up to a few slots).
 * Tags: \p srs_start on every output at the slot start, value a dict with
 * \p occasion (uint64), \p metric (rho), \p cfo_hz and \p fractional_offset (samples;
 * the true start is the tag offset plus this, |.| <= 0.5). Input tags other than
 * \p srs_start pass one-to-one.
 *
 * Bad input: an \p rx_time tag that disagrees with the previous one by more than half
 * a sample (UHD overflow, a capture gap) restarts acquisition at the tag (num_resyncs()):
 * an occasion whose SRS symbols straddle the gap is never tagged, and the occasion
 * numbering and num_missed() continue across a gap of known length (the time jump);
 * an \p rx_rate tag different
 * from \p sample_rate pauses detection (error in the log) until a matching
 * \p rx_rate; non-finite samples count as zero for detection (one warning per burst).
 * Noise alone produces no tags (at most pfa per slot).
 *
 * Missed occasions: num_missed() counts the occasions the tracker expected (whole
 * intervals after a detection, up to the end of the stream) that gave no tag;
 * num_detections() + num_missed() is the number expected.
 */
class SRSAOA_API srs_sync_core : virtual public gr::block
{
public:
    typedef std::shared_ptr<srs_sync_core> sptr;

    /*!
     * \param num_channels M input and output streams (>= 1).
     * \param reference known slot waveform (complex, T samples at \p sample_rate).
     * \param segment_starts first sample (CP included) of each SRS symbol in the slot.
     * \param segment_lengths length (CP + FFT size) of each SRS symbol, samples.
     * \param ref_channel channel used for detection, -1 = all (non-coherent sum).
     * \param period SRS period in samples (0 = unknown: acquisition only, no tracking).
     * \param pfa false-detection probability per slot of noise, (0, 0.5).
     * \param track_window W, samples searched either side of the predicted start.
     * \param max_misses tracking misses in a row before re-acquisition (>= 1).
     * \param sample_rate Hz; \p rx_rate tags are checked against it.
     * \param min_metric guard in [0, 1): each threshold is at least this, to reject
     *        other UEs' SRS sequences (gnuradio.srsaoa.srs_sync sets 12 / N_sc by
     *        default, divided by the number of UEs sharing the band; 0 = no guard, the
     *        thresholds are then the noise thresholds from \p pfa).
     * \param period_pattern intervals between consecutive occasions over one cycle
     *        when they differ (numerology mu >= 2: the long CP every 0.5 ms); empty =
     *        every interval is \p period.
     */
    static sptr make(int num_channels,
                     const std::vector<gr_complex>& reference,
                     const std::vector<int>& segment_starts,
                     const std::vector<int>& segment_lengths,
                     int ref_channel,
                     std::int64_t period,
                     double pfa,
                     int track_window,
                     int max_misses,
                     double sample_rate,
                     double min_metric = 0.0,
                     const std::vector<std::int64_t>& period_pattern = {});

    /*! Number of srs_start tags emitted so far. */
    virtual std::uint64_t num_detections() const = 0;
    /*! Detector state: 0 acquisition, 1 confirming the period, 2 tracking. */
    virtual int state() const = 0;
    /*! Thresholds in use: max(noise threshold, min_metric). */
    virtual double acquisition_threshold() const = 0;
    virtual double tracking_threshold() const = 0;
    /*! The noise (CFAR) thresholds from pfa alone. */
    virtual double noise_acquisition_threshold() const = 0;
    virtual double noise_tracking_threshold() const = 0;
    virtual double min_metric() const = 0;
    /*! False detections per slot of noise at the acquisition threshold in use (union
     * bound): pfa when the noise threshold is in force, less under the guard. */
    virtual double effective_pfa() const = 0;
    /*! Acquisition restarts caused by rx_time discontinuities (overflow, capture gap). */
    virtual std::uint64_t num_resyncs() const = 0;
    /*! Occasions the tracker expected but did not detect (including those inside gaps
     * of known length and those up to the end of the stream). */
    virtual std::uint64_t num_missed() const = 0;
    /*! Samples missing in the rx_time gaps seen so far. */
    virtual std::uint64_t num_gap_samples() const = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_SRS_SYNC_CORE_H */
