/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_RECORDING_SOURCE_H
#define INCLUDED_SRSAOA_RECORDING_SOURCE_H

#include <cstdint>
#include <gnuradio/srsaoa/api.h>
#include <gnuradio/sync_block.h>
#include <string>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief M complex streams from the files of a recording (cf32 or ci16), in C++.
 * \ingroup srsaoa
 *
 * \details
 * The streaming core of gnuradio.srsaoa.sigmf_source, which validates the SigMF
 * metadata and passes the data files here (recording_reader: one file per channel or
 * one interleaved file, ci16 divided by \p scale). Output m is channel m.
 *
 * Tags at the first sample of every pass (once, or at every restart with \p repeat):
 * \p rx_rate = \p sample_rate and \p rx_freq = \p center_frequency (doubles), and on the
 * first pass only, when \p has_time, \p rx_time = (uint64 \p time_secs, double
 * \p time_frac) (UHD's format; read from core:datetime, never invented).
 *
 * With \p count_nonfinite (cf32 only) the first pass counts the time samples that are
 * NaN/Inf in some channel (num_nonfinite(), first_nonfinite()); they stream through
 * unchanged (srs_sync and cfr_extractor skip the occasions they touch) and stop() logs
 * one warning with the count. A read error is logged, kept in error() and ends the
 * stream (WORK_DONE).
 */
class SRSAOA_API recording_source : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<recording_source> sptr;

    /*!
     * \param files one data file per channel, or one file with the channels interleaved.
     * \param num_channels M >= 1.
     * \param datatype "cf32_le" or "ci16_le".
     * \param scale ci16 divisor (> 0).
     * \param num_samples samples per channel (0 = what the files hold).
     * \param repeat start again at the end.
     * \param sample_rate Hz, value of the rx_rate tags.
     * \param center_frequency Hz, value of the rx_freq tags.
     * \param has_time tag rx_time at the first sample.
     * \param time_secs full seconds of rx_time.
     * \param time_frac fractional seconds of rx_time.
     * \param count_nonfinite count non-finite samples on the first pass.
     * \param capture_starts first sample of each later SigMF capture with a
     *        core:datetime (increasing, > 0): on the first pass an rx_time tag
     *        (\p capture_secs[i], \p capture_fracs[i]) marks it, so a capture gap (a
     *        datetime later than the samples before it account for) reaches srs_sync
     *        and cfr_extractor as a time discontinuity, as a UHD overflow would.
     * \param capture_secs full seconds of each of those captures' rx_time.
     * \param capture_fracs fractional seconds, in [0, 1).
     */
    static sptr make(const std::vector<std::string>& files,
                     int num_channels,
                     const std::string& datatype,
                     double scale,
                     std::uint64_t num_samples,
                     bool repeat,
                     double sample_rate,
                     double center_frequency,
                     bool has_time,
                     std::uint64_t time_secs,
                     double time_frac,
                     bool count_nonfinite,
                     const std::vector<std::uint64_t>& capture_starts = {},
                     const std::vector<std::uint64_t>& capture_secs = {},
                     const std::vector<double>& capture_fracs = {});

    /*! Samples per channel in one pass. */
    virtual std::uint64_t num_samples() const = 0;
    /*! Time samples with a NaN/Inf in some channel, first pass (counted so far). */
    virtual std::uint64_t num_nonfinite() const = 0;
    /*! Index of the first non-finite time sample, -1 if none. */
    virtual std::int64_t first_nonfinite() const = 0;
    /*! Samples per channel streamed so far (all passes). */
    virtual std::uint64_t num_streamed() const = 0;
    /*! True once the first pass has been read completely. */
    virtual bool first_pass_done() const = 0;
    /*! rx_time tags placed at later captures' starts (first pass). */
    virtual std::uint64_t num_capture_tags() const = 0;
    /*! The read error that ended the stream, or "". */
    virtual std::string error() const = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_RECORDING_SOURCE_H */
