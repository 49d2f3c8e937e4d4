/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H
#define INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H

#include "tag_utils.h"
#include <atomic>
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
    // counters read from other threads (Python) while the block runs
    std::atomic<std::uint64_t> d_ndet;
    std::atomic<std::uint64_t> d_resyncs;
    std::atomic<std::uint64_t> d_missed;
    std::atomic<std::uint64_t> d_gap_samples;
    std::atomic<int> d_state;
    tag_utils::rx_time_tracker d_time;
    bool d_rate_ok;
    bool d_in_nonfinite;
    std::vector<const gr_complex*> d_ptrs;
    std::vector<const gr_complex*> d_in; // first new sample of each input (past history)

    void feed(std::size_t from, std::size_t n);
    void push(std::size_t from, std::size_t n);
    void feed_range(std::size_t from, std::size_t n);
    void handle_tag(const gr::tag_t& tag);
    void publish_counters();

    /*! What the scheduler knows of input \p i's upstream buffer. */
    struct upstream_view {
        bool known;             //!< false: no block_detail (not in a running flowgraph)
        bool done;              //!< the upstream block has finished
        std::int64_t capacity;  //!< most items the buffer can ever offer at once
        std::int64_t available; //!< items readable now (history included)
    };
    upstream_view upstream(int i) const;

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
                       double min_metric,
                       const std::vector<std::int64_t>& period_pattern);

    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;
    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;

    std::uint64_t num_detections() const override
    {
        return d_ndet.load();
    }
    int state() const override
    {
        return d_state.load();
    }
    double acquisition_threshold() const override
    {
        return d_kernel.acquisition_threshold();
    }
    double tracking_threshold() const override
    {
        return d_kernel.tracking_threshold();
    }
    double noise_acquisition_threshold() const override
    {
        return d_kernel.noise_acquisition_threshold();
    }
    double noise_tracking_threshold() const override
    {
        return d_kernel.noise_tracking_threshold();
    }
    double min_metric() const override
    {
        return d_kernel.min_metric();
    }
    double effective_pfa() const override
    {
        return d_kernel.effective_pfa();
    }
    std::uint64_t num_resyncs() const override
    {
        return d_resyncs.load();
    }
    std::uint64_t num_missed() const override
    {
        return d_missed.load();
    }
    std::uint64_t num_gap_samples() const override
    {
        return d_gap_samples.load();
    }
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_SRS_SYNC_CORE_IMPL_H */
