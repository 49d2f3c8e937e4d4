/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H
#define INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H

#include <deque>
#include <gnuradio/srsaoa/srs_sync_core.h>
#include <gnuradio/srsaoa/srs_sync_kernel.h>

namespace gr {
namespace srsaoa {

class srs_sync_core_impl : public srs_sync_core
{
private:
    srs_sync_kernel d_kernel;
    int d_m;
    double d_fs;
    std::vector<std::vector<gr_complex>> d_fifo; // per channel: ring of d_capacity items
    std::size_t d_head;                          // ring index of the oldest item
    std::size_t d_count;                         // items in the ring
    std::size_t d_capacity;
    std::deque<srs_detection> d_pending;
    std::uint64_t d_ndet;
    std::uint64_t d_resyncs;
    bool d_have_time;
    std::uint64_t d_time_offset;
    std::uint64_t d_time_full; // rx_time of d_time_offset: full seconds
    double d_time_frac;        // and fractional seconds
    bool d_rate_ok;
    bool d_in_nonfinite;
    std::vector<const gr_complex*> d_ptrs;
    std::vector<const gr_complex*> d_in; // first new sample of each input (past history)

    void feed(std::size_t from, std::size_t n);
    void push(std::size_t from, std::size_t n);
    void feed_range(std::size_t from, std::size_t n);
    void handle_tag(const gr::tag_t& tag);

public:
    srs_sync_core_impl(int num_channels,
                       const std::vector<gr_complex>& reference,
                       const std::vector<int>& segment_starts,
                       const std::vector<int>& segment_lengths,
                       int ref_channel,
                       std::int64_t period,
                       double pfa,
                       int track_window,
                       int max_misses,
                       double sample_rate,
                       double min_metric);

    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;
    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;

    std::uint64_t num_detections() const override
    {
        return d_ndet;
    }
    int state() const override
    {
        return d_kernel.state();
    }
    double acquisition_threshold() const override
    {
        return d_kernel.acquisition_threshold();
    }
    double tracking_threshold() const override
    {
        return d_kernel.tracking_threshold();
    }
    std::uint64_t num_resyncs() const override
    {
        return d_resyncs;
    }
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H */
