/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_RECORDING_SOURCE_IMPL_H
#define INCLUDED_SRSAOA_RECORDING_SOURCE_IMPL_H

#include <atomic>
#include <gnuradio/srsaoa/recording_reader.h>
#include <gnuradio/srsaoa/recording_source.h>
#include <mutex>

namespace gr {
namespace srsaoa {

class recording_source_impl : public recording_source
{
private:
    recording_reader d_reader;
    bool d_repeat;
    pmt::pmt_t d_rate, d_freq, d_time;
    bool d_count;
    std::uint64_t d_pos;
    std::uint64_t d_pass;
    std::atomic<std::uint64_t> d_streamed;
    std::atomic<std::uint64_t> d_nonfinite;
    std::atomic<std::int64_t> d_first_nonfinite;
    std::atomic<bool> d_first_done;
    mutable std::mutex d_err_mutex;
    std::string d_error;
    std::vector<gr_complex*> d_out;
    std::vector<std::uint64_t> d_cap_start;
    std::vector<pmt::pmt_t> d_cap_time;
    std::size_t d_next_cap;
    std::atomic<std::uint64_t> d_cap_tags;

    void tag_start(std::uint64_t offset);

public:
    recording_source_impl(const std::vector<std::string>& files,
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
                          const std::vector<std::uint64_t>& capture_starts,
                          const std::vector<std::uint64_t>& capture_secs,
                          const std::vector<double>& capture_fracs);

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
    bool stop() override;

    std::uint64_t num_samples() const override
    {
        return d_reader.num_samples();
    }
    std::uint64_t num_nonfinite() const override
    {
        return d_nonfinite.load();
    }
    std::int64_t first_nonfinite() const override
    {
        return d_first_nonfinite.load();
    }
    std::uint64_t num_streamed() const override
    {
        return d_streamed.load();
    }
    std::uint64_t num_capture_tags() const override
    {
        return d_cap_tags.load();
    }
    bool first_pass_done() const override
    {
        return d_first_done.load();
    }
    std::string error() const override
    {
        std::lock_guard<std::mutex> lock(d_err_mutex);
        return d_error;
    }
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_RECORDING_SOURCE_IMPL_H */
