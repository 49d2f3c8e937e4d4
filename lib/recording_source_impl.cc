/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "recording_source_impl.h"
#include <algorithm>
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <stdexcept>

namespace gr {
namespace srsaoa {

recording_source::sptr
recording_source::make(const std::vector<std::string>& files,
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
                       const std::vector<double>& capture_fracs)
{
    return gnuradio::make_block_sptr<recording_source_impl>(files,
                                                            num_channels,
                                                            datatype,
                                                            scale,
                                                            num_samples,
                                                            repeat,
                                                            sample_rate,
                                                            center_frequency,
                                                            has_time,
                                                            time_secs,
                                                            time_frac,
                                                            count_nonfinite,
                                                            capture_starts,
                                                            capture_secs,
                                                            capture_fracs);
}

recording_source_impl::recording_source_impl(
    const std::vector<std::string>& files,
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
    const std::vector<double>& capture_fracs)
    : gr::sync_block("recording_source",
                     gr::io_signature::make(0, 0, 0),
                     gr::io_signature::make(std::max(1, num_channels),
                                            std::max(1, num_channels),
                                            sizeof(gr_complex))),
      d_reader(files, num_channels, datatype, scale, num_samples), d_repeat(repeat),
      d_rate(pmt::from_double(sample_rate)), d_freq(pmt::from_double(center_frequency)),
      d_time(pmt::PMT_NIL), d_count(count_nonfinite), d_pos(0), d_pass(0), d_streamed(0),
      d_nonfinite(0), d_first_nonfinite(-1), d_first_done(false), d_next_cap(0),
      d_cap_tags(0)
{
    if (capture_secs.size() != capture_starts.size() ||
        capture_fracs.size() != capture_starts.size())
        throw std::invalid_argument("recording_source: capture_starts, capture_secs and "
                                    "capture_fracs must have equal lengths");
    for (std::size_t i = 0; i < capture_starts.size(); i++) {
        if (capture_starts[i] == 0 ||
            (i > 0 && capture_starts[i] <= capture_starts[i - 1]))
            throw std::invalid_argument(
                "recording_source: capture_starts must be increasing and > 0");
        if (!(capture_fracs[i] >= 0.0 && capture_fracs[i] < 1.0))
            throw std::invalid_argument(
                "recording_source: capture_fracs must be in [0, 1)");
        d_cap_start.push_back(capture_starts[i]);
        d_cap_time.push_back(pmt::make_tuple(pmt::from_uint64(capture_secs[i]),
                                             pmt::from_double(capture_fracs[i])));
    }
    if (!(sample_rate > 0.0))
        throw std::invalid_argument("recording_source: sample_rate must be > 0");
    if (has_time) {
        if (!(time_frac >= 0.0 && time_frac < 1.0))
            throw std::invalid_argument("recording_source: time_frac must be in [0, 1)");
        d_time =
            pmt::make_tuple(pmt::from_uint64(time_secs), pmt::from_double(time_frac));
    }
    d_out.resize(static_cast<std::size_t>(num_channels));
}

void recording_source_impl::tag_start(std::uint64_t offset)
{
    const pmt::pmt_t src = pmt::intern(alias());
    for (int m = 0; m < d_reader.num_channels(); m++) {
        add_item_tag(m, offset, tags::rx_rate(), d_rate, src);
        add_item_tag(m, offset, tags::rx_freq(), d_freq, src);
        if (d_pass == 0 && !pmt::is_null(d_time))
            add_item_tag(m, offset, keys::rx_time(), d_time, src);
    }
}

int recording_source_impl::work(int noutput_items,
                                gr_vector_const_void_star&,
                                gr_vector_void_star& output_items)
{
    const std::uint64_t total = d_reader.num_samples();
    const std::size_t want = static_cast<std::size_t>(std::max(noutput_items, 0));
    std::size_t done = 0;
    try {
        while (done < want) {
            if (d_pos >= total) {
                if (!d_repeat || total == 0)
                    break;
                d_pos = 0;
                d_pass++;
            }
            if (d_pos == 0)
                tag_start(nitems_written(0) + done);
            for (std::size_t m = 0; m < d_out.size(); m++)
                d_out[m] = static_cast<gr_complex*>(output_items[m]) + done;
            const std::size_t k = d_reader.read(d_pos, want - done, d_out.data());
            if (k == 0)
                break;
            if (d_pass == 0) {
                // rx_time at the later captures' starts read in this piece
                const pmt::pmt_t src = pmt::intern(alias());
                while (d_next_cap < d_cap_start.size() &&
                       d_cap_start[d_next_cap] < d_pos + k) {
                    const std::uint64_t cs = d_cap_start[d_next_cap];
                    if (cs >= d_pos) {
                        const std::uint64_t off = nitems_written(0) + done + (cs - d_pos);
                        for (int m = 0; m < d_reader.num_channels(); m++)
                            add_item_tag(
                                m, off, keys::rx_time(), d_cap_time[d_next_cap], src);
                        d_cap_tags++;
                    }
                    d_next_cap++;
                }
            }
            if (d_count && d_pass == 0) {
                d_reader.count_nonfinite(d_pos, k, d_out.data());
                d_nonfinite.store(d_reader.num_nonfinite());
                d_first_nonfinite.store(d_reader.first_nonfinite());
            }
            d_pos += k;
            done += k;
            if (d_pass == 0 && d_pos >= total)
                d_first_done.store(true);
        }
    } catch (const std::exception& e) {
        {
            std::lock_guard<std::mutex> lock(d_err_mutex);
            d_error = e.what();
        }
        d_logger->error("reading the recording: {}", e.what());
        return WORK_DONE;
    }
    d_streamed.fetch_add(done);
    if (done == 0)
        return WORK_DONE;
    return static_cast<int>(done);
}

bool recording_source_impl::stop()
{
    if (d_nonfinite.load() > 0)
        d_logger->warn("{} non-finite (NaN/Inf) sample(s), first at sample {}: the SRS "
                       "occasions they touch are skipped",
                       d_nonfinite.load(),
                       d_first_nonfinite.load());
    return true;
}

} // namespace srsaoa
} // namespace gr
