/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_IMPL_H
#define INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_IMPL_H

#include "tag_utils.h"
#include <atomic>
#include <deque>
#include <gnuradio/srsaoa/cfr_extractor_core.h>
#include <gnuradio/srsaoa/cfr_kernel.h>
#include <map>
#include <mutex>
#include <string>

namespace gr {
namespace srsaoa {

class cfr_extractor_core_impl : public cfr_extractor_core
{
private:
    struct occasion {
        std::uint64_t start;
        pmt::pmt_t tag_value;
        double cfo_hz;
        bool has_time;
        std::uint64_t time_full;
        double time_frac;
        std::vector<std::vector<gr_complex>> win; // [m][S*N]
    };

    cfr_kernel d_kernel;
    int d_m;
    std::vector<int> d_subcarriers;
    double d_scs;
    double d_fs;
    std::atomic<bool> d_cfo;
    std::deque<occasion> d_pending;
    std::vector<std::vector<std::vector<gr_complex>>> d_pool; // recycled windows
    tag_utils::rx_time_tracker d_time;
    bool d_rate_ok;
    bool d_in_bad;
    // counters read from other threads (Python) while the block runs
    std::atomic<std::uint64_t> d_ncfr, d_ndropped, d_ngap;
    bool d_have_freq;
    double d_freq;
    std::atomic<std::uint64_t> d_retunes;
    std::vector<gr_complex> d_h;
    // guards the kernel's calibration and d_has_cal (set_calibration from any thread)
    mutable std::mutex d_mutex;
    bool d_has_cal;
    bool has_calibration() const
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        return d_has_cal;
    }
    void drop_gap(std::uint64_t start, std::uint64_t jump_offset);

    // true if the occasion lies whole in [r0, r0 + n) and was estimated straight from
    // the input buffer (no window copies); otherwise it waits in d_pending
    bool start_occasion(const gr::tag_t& tag,
                        gr_vector_const_void_star& input_items,
                        std::uint64_t r0,
                        std::uint64_t n,
                        bool direct_ok);
    void finish_occasion(occasion& occ, const gr_complex* const* sym);
    std::vector<const gr_complex*> d_sym; // [m * S + s]: the FFT windows of one occasion

    // flow control (set_flow_control): sample indexes of the CFRs in flight, and how far
    // each consumer has acknowledged (+1; 0 = nothing yet)
    mutable std::mutex d_fc_mutex;
    int d_window, d_consumers;
    std::deque<std::uint64_t> d_in_flight;
    std::map<std::string, std::uint64_t> d_acked;
    std::atomic<std::uint64_t> d_held;
    std::atomic<std::uint64_t> d_max_in_flight;
    void handle_ack(const pmt::pmt_t& msg);
    void release_locked();

public:
    cfr_extractor_core_impl(int num_channels,
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

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

    void set_calibration(const std::vector<gr_complex>& calibration) override;
    void set_cfo_correction(bool on) override
    {
        d_cfo.store(on);
    }
    bool cfo_correction() const override
    {
        return d_cfo.load();
    }
    std::uint64_t num_cfrs() const override
    {
        return d_ncfr.load();
    }
    std::uint64_t num_dropped() const override
    {
        return d_ndropped.load();
    }
    std::uint64_t num_gap_dropped() const override
    {
        return d_ngap.load();
    }
    std::uint64_t num_retunes() const override
    {
        return d_retunes.load();
    }
    void set_flow_control(int window, int consumers) override;
    std::uint64_t num_in_flight() const override
    {
        std::lock_guard<std::mutex> lock(d_fc_mutex);
        return d_in_flight.size();
    }
    std::uint64_t num_held() const override
    {
        return d_held.load();
    }
    std::uint64_t max_in_flight() const override
    {
        return d_max_in_flight.load();
    }
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_CFR_EXTRACTOR_CORE_IMPL_H */
