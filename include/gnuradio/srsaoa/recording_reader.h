/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_RECORDING_READER_H
#define INCLUDED_SRSAOA_RECORDING_READER_H

#include <complex>
#include <cstddef>
#include <cstdint>
#include <gnuradio/srsaoa/api.h>
#include <string>
#include <vector>

namespace gr {
namespace srsaoa {

/*!
 * \brief Reads the samples of a multichannel recording from disk (no GNU Radio types).
 *
 * The files hold little-endian \p cf32_le (interleaved I/Q float32) or \p ci16_le
 * (interleaved I/Q int16) samples (DESIGN section 5): either one file per channel, or a
 * single file with the M channels interleaved sample by sample (SigMF
 * core:num_channels = M, raw GNU Radio file-sink output). ci16 samples are divided by
 * \p scale. Reads go straight into the caller's buffers (cf32, one file per channel) or
 * through one staging buffer (ci16, interleaved channels) with pread, so the files are
 * never mapped into the process and the page cache is all the memory they take.
 *
 * The Python twin is io.sigmf.RecordingReader.read (numpy memory map).
 */
class SRSAOA_API recording_reader
{
public:
    using cplx = std::complex<float>;

    /*!
     * \param files one path per channel, or a single path holding all channels.
     * \param num_channels M >= 1.
     * \param datatype "cf32_le" or "ci16_le".
     * \param scale ci16 full-scale divisor (> 0; ignored for cf32).
     * \param num_samples samples per channel to use; 0 = all whole samples of the
     *        (shortest) file. More than the files hold is an error.
     * \throws std::invalid_argument on a bad parameter, std::runtime_error if a file
     *         cannot be opened or is too short.
     */
    recording_reader(const std::vector<std::string>& files,
                     int num_channels,
                     const std::string& datatype,
                     double scale,
                     std::uint64_t num_samples);
    ~recording_reader();
    recording_reader(const recording_reader&) = delete;
    recording_reader& operator=(const recording_reader&) = delete;

    /*!
     * \brief Samples [start, start + count) of every channel into out[m] (M pointers).
     * \returns the number read: count, or fewer at the end of the recording.
     * \throws std::runtime_error on a read error.
     */
    std::size_t read(std::uint64_t start, std::size_t count, cplx* const* out);

    /*!
     * \brief Count the time samples of out[m][0..count) that are non-finite (NaN/Inf)
     * in at least one channel; \p start is the index of out[.][0] in the recording.
     * Adds to num_nonfinite() and sets first_nonfinite() at the first one.
     */
    void count_nonfinite(std::uint64_t start, std::size_t count, const cplx* const* out);

    int num_channels() const
    {
        return d_m;
    }
    std::uint64_t num_samples() const
    {
        return d_n;
    }
    bool interleaved() const
    {
        return d_fds.size() == 1 && d_m > 1;
    }
    std::uint64_t num_nonfinite() const
    {
        return d_nonfinite;
    }
    /*! Index of the first non-finite time sample, -1 if none was seen. */
    std::int64_t first_nonfinite() const
    {
        return d_first_nonfinite;
    }

private:
    int d_m;
    bool d_ci16;
    float d_scale;
    std::uint64_t d_n;
    std::vector<int> d_fds;
    std::vector<std::string> d_paths;
    std::vector<std::int16_t> d_stage16;
    std::vector<cplx> d_stage32;
    std::uint64_t d_nonfinite;
    std::int64_t d_first_nonfinite;

    void pread_all(int which, void* buf, std::size_t bytes, std::uint64_t offset);
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_RECORDING_READER_H */
