/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "srs_sync_core_impl.h"
#include <algorithm>
#include <cmath>
#include <gnuradio/block_detail.h>
#include <gnuradio/buffer_reader.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <limits>
#include <stdexcept>
#include <string>

namespace gr {
namespace srsaoa {

srs_sync_core::sptr srs_sync_core::make(int num_channels,
                                        const std::vector<gr_complex>& reference,
                                        const std::vector<int>& segment_starts,
                                        const std::vector<int>& segment_lengths,
                                        int ref_channel,
                                        std::int64_t period,
                                        double pfa,
                                        int track_window,
                                        int max_misses,
                                        double sample_rate,
                                        double min_metric)
{
    return gnuradio::make_block_sptr<srs_sync_core_impl>(num_channels,
                                                         reference,
                                                         segment_starts,
                                                         segment_lengths,
                                                         ref_channel,
                                                         period,
                                                         pfa,
                                                         track_window,
                                                         max_misses,
                                                         sample_rate,
                                                         min_metric);
}

srs_sync_core_impl::srs_sync_core_impl(int num_channels,
                                       const std::vector<gr_complex>& reference,
                                       const std::vector<int>& segment_starts,
                                       const std::vector<int>& segment_lengths,
                                       int ref_channel,
                                       std::int64_t period,
                                       double pfa,
                                       int track_window,
                                       int max_misses,
                                       double sample_rate,
                                       double min_metric)
    : gr::block(
          "srs_sync_core",
          gr::io_signature::make(
              std::max(1, num_channels), std::max(1, num_channels), sizeof(gr_complex)),
          gr::io_signature::make(
              std::max(1, num_channels), std::max(1, num_channels), sizeof(gr_complex))),
      d_kernel(reference,
               segment_starts,
               segment_lengths,
               num_channels,
               ref_channel,
               period,
               pfa,
               track_window,
               max_misses,
               sample_rate,
               min_metric),
      d_m(num_channels), d_fs(sample_rate), d_head(0), d_count(0), d_ndet(0),
      d_resyncs(0), d_have_time(false), d_time_offset(0), d_time_full(0),
      d_time_frac(0.0), d_rate_ok(true), d_in_nonfinite(false)
{
    d_capacity = static_cast<std::size_t>(d_kernel.lookahead()) + 65536;
    d_fifo.assign(num_channels, std::vector<gr_complex>(d_capacity));
    d_ptrs.resize(num_channels);
    set_tag_propagation_policy(TPP_DONT);
    // larger output chunks: fewer scheduler round trips for M streams at line rate
    for (int m = 0; m < num_channels; m++)
        set_min_output_buffer(m, 1 << 15);
    d_logger->debug("thresholds: acquisition {:.6f}, tracking {:.6f}",
                    d_kernel.acquisition_threshold(),
                    d_kernel.tracking_threshold());
}

bool srs_sync_core_impl::inputs_done() const
{
    auto det = detail();
    if (!det)
        return false;
    for (int m = 0; m < d_m; m++)
        if (!det->input(m)->done())
            return false;
    return true;
}

void srs_sync_core_impl::forecast(int, gr_vector_int& ninput_items_required)
{
    // One item beyond the already-fed anchor (no busy loop while starved); nothing from
    // an input whose upstream has finished, so general_work can flush the FIFO at the
    // end.
    const bool anchor = d_kernel.fed() > static_cast<std::int64_t>(nitems_read(0));
    auto det = detail();
    for (std::size_t i = 0; i < ninput_items_required.size(); i++) {
        const bool done = det && det->input(static_cast<int>(i))->done();
        ninput_items_required[i] = done ? 0 : (anchor ? 2 : 1);
    }
}

void srs_sync_core_impl::handle_tag(const gr::tag_t& tag)
{
    if (pmt::eq(tag.key, tags::rx_rate())) {
        if (!pmt::is_number(tag.value))
            return;
        const double rate = pmt::to_double(tag.value);
        const bool ok = std::abs(rate - d_fs) <= 1e-6 * d_fs;
        if (!ok && d_rate_ok) {
            d_logger->error("rx_rate tag {} Hz at sample {} differs from the configured "
                            "sample_rate {} Hz: detection paused until they match",
                            rate,
                            tag.offset,
                            d_fs);
        } else if (ok && !d_rate_ok) {
            d_logger->info("rx_rate {} Hz matches again at sample {}: re-acquiring",
                           rate,
                           tag.offset);
        }
        if (ok != d_rate_ok)
            d_kernel.set_enabled(ok);
        d_rate_ok = ok;
        return;
    }
    if (pmt::eq(tag.key, keys::rx_time())) {
        if (!pmt::is_tuple(tag.value) || pmt::length(tag.value) != 2)
            return;
        const pmt::pmt_t full = pmt::tuple_ref(tag.value, 0);
        const pmt::pmt_t frac = pmt::tuple_ref(tag.value, 1);
        if (!pmt::is_number(full) || !pmt::is_number(frac))
            return;
        // full and fractional seconds apart: a double holding both loses ~0.2 us at 1e9 s
        const std::uint64_t full_s = pmt::to_uint64(full);
        const double frac_s = pmt::to_double(frac);
        if (d_have_time) {
            const double elapsed =
                static_cast<double>(static_cast<std::int64_t>(full_s - d_time_full)) +
                (frac_s - d_time_frac);
            const double expect = static_cast<double>(tag.offset - d_time_offset) / d_fs;
            const double err_samples = (elapsed - expect) * d_fs;
            if (std::abs(err_samples) > 0.5) {
                d_logger->warn(
                    "rx_time jumps by {:.1f} samples at sample {} (overflow or "
                    "gap): re-acquiring",
                    err_samples,
                    tag.offset);
                d_kernel.restart();
                d_resyncs++;
            }
        }
        d_have_time = true;
        d_time_offset = tag.offset;
        d_time_full = full_s;
        d_time_frac = frac_s;
    }
}

void srs_sync_core_impl::feed(gr_vector_const_void_star& input_items,
                              std::size_t from,
                              std::size_t n)
{
    if (n == 0)
        return;
    for (int m = 0; m < d_m; m++)
        d_ptrs[m] = static_cast<const gr_complex*>(input_items[m]) + from;
    const auto before = d_kernel.nonfinite_count();
    d_kernel.process(d_ptrs.data(), n);
    const bool bad = d_kernel.nonfinite_count() != before;
    if (bad && !d_in_nonfinite)
        d_logger->warn("non-finite samples near sample {}: treated as zero for detection",
                       d_kernel.fed() - static_cast<std::int64_t>(n));
    else if (!bad && d_in_nonfinite)
        d_logger->info("non-finite burst ended ({} samples so far)",
                       d_kernel.nonfinite_count());
    d_in_nonfinite = bad;
}

void srs_sync_core_impl::push(gr_vector_const_void_star& input_items,
                              std::size_t from,
                              std::size_t n)
{
    // append to the rings (the caller never exceeds the free space)
    const std::size_t tail = (d_head + d_count) % d_capacity;
    const std::size_t first = std::min(n, d_capacity - tail);
    for (int m = 0; m < d_m; m++) {
        const auto* p = static_cast<const gr_complex*>(input_items[m]) + from;
        std::copy(p, p + first, d_fifo[m].begin() + tail);
        std::copy(p + first, p + n, d_fifo[m].begin());
    }
    d_count += n;
}

void srs_sync_core_impl::feed_range(gr_vector_const_void_star& input_items,
                                    std::size_t from,
                                    std::size_t n)
{
    if (n == 0)
        return;
    const std::uint64_t r0 = nitems_read(0);
    std::vector<gr::tag_t> tags;
    get_tags_in_range(tags, 0, r0 + from, r0 + from + n);
    std::sort(tags.begin(), tags.end(), gr::tag_t::offset_compare);
    std::size_t pos = from;
    for (const auto& t : tags) {
        if (!pmt::eq(t.key, keys::rx_time()) && !pmt::eq(t.key, tags::rx_rate()))
            continue;
        const std::size_t at = static_cast<std::size_t>(t.offset - r0);
        feed(input_items, pos, at - pos);
        pos = at;
        handle_tag(t);
    }
    feed(input_items, pos, from + n - pos);
    // pass the input tags one-to-one, except srs_start (this block makes those)
    for (int m = 0; m < d_m; m++) {
        std::vector<gr::tag_t> mt;
        get_tags_in_range(mt, m, nitems_read(m) + from, nitems_read(m) + from + n);
        for (const auto& t : mt)
            if (!pmt::eq(t.key, tags::srs_start()))
                add_item_tag(m, t);
    }
}

int srs_sync_core_impl::general_work(int noutput_items,
                                     gr_vector_int& ninput_items,
                                     gr_vector_const_void_star& input_items,
                                     gr_vector_void_star& output_items)
{
    int n_in = ninput_items[0];
    for (int m = 1; m < d_m; m++)
        n_in = std::min(n_in, ninput_items[m]);
    const auto r0 = static_cast<std::int64_t>(nitems_read(0));
    // input items already fed to the detector but not consumed (the "anchor", below)
    const auto fed_ahead = static_cast<std::size_t>(
        std::max<std::int64_t>(0, std::min<std::int64_t>(d_kernel.fed() - r0, n_in)));
    auto feed_new = [&](std::size_t from, std::size_t to) {
        const std::size_t a = std::max(from, fed_ahead);
        if (to > a)
            feed_range(input_items, a, to - a);
    };

    // Direct path: with nothing held back, samples below decided() can never carry a
    // future tag, so they go straight from input to output (one copy, no FIFO). While
    // tracking that is everything outside the search windows.
    std::size_t direct = 0;
    if (d_count == 0 && n_in > 0) {
        const std::int64_t dec = d_kernel.decided() - r0;
        direct = static_cast<std::size_t>(std::max<std::int64_t>(
            0, std::min<std::int64_t>({ n_in, noutput_items, dec })));
        if (direct > 0) {
            feed_new(0, direct);
            for (int m = 0; m < d_m; m++) {
                const auto* in = static_cast<const gr_complex*>(input_items[m]);
                std::copy(in, in + direct, static_cast<gr_complex*>(output_items[m]));
            }
        }
    }

    // FIFO path: the rest is fed to the detector and held until decided.
    const std::size_t room =
        d_capacity > fifo_size() ? d_capacity - fifo_size() : static_cast<std::size_t>(0);
    std::size_t take =
        std::min<std::size_t>(static_cast<std::size_t>(n_in) - direct, room);
    feed_new(direct, direct + take);
    // Anchor: while samples wait in the FIFO, the last input item stays unconsumed (it
    // has been fed), so the scheduler keeps calling this block after the upstream has
    // finished and the FIFO can be flushed.
    const bool holding = d_count > 0 || take > 0;
    if (holding && take > 0 && direct + take == static_cast<std::size_t>(n_in))
        take--;
    push(input_items, direct, take);
    if (direct + take > 0)
        consume_each(static_cast<int>(direct + take));
    // an input with nothing left whose upstream has finished: no more complete samples
    bool starved = false;
    for (int m = 0; m < d_m; m++)
        starved = starved || (ninput_items[m] == static_cast<int>(direct + take) &&
                              detail()->input(m)->done());
    if (starved && d_kernel.fed() == r0 + n_in)
        d_kernel.finish();
    if (inputs_done()) {
        // done() first, then the count: items written before done() are all visible now
        // (n_in may be stale: the upstream can write its last items after it was read)
        std::int64_t avail = std::numeric_limits<std::int64_t>::max();
        for (int m = 0; m < d_m; m++)
            avail = std::min<std::int64_t>(avail, detail()->input(m)->items_available());
        if (d_kernel.fed() == r0 + avail)
            d_kernel.finish(); // nothing more will come: everything fed is decided
    }

    for (const auto& d : d_kernel.take_detections())
        d_pending.push_back(d);

    const std::uint64_t w0 = nitems_written(0) + direct; // first FIFO item's index
    const std::int64_t decided = d_kernel.decided();
    std::int64_t n_out = std::min<std::int64_t>(static_cast<std::int64_t>(noutput_items) -
                                                    static_cast<std::int64_t>(direct),
                                                static_cast<std::int64_t>(fifo_size()));
    n_out = std::min<std::int64_t>(n_out, decided - static_cast<std::int64_t>(w0));
    if (n_out < 0)
        n_out = 0;
    const auto nout = static_cast<std::size_t>(n_out);
    const std::size_t first = std::min(nout, d_capacity - d_head);
    for (int m = 0; m < d_m; m++) {
        auto* out = static_cast<gr_complex*>(output_items[m]) + direct;
        std::copy(d_fifo[m].begin() + d_head, d_fifo[m].begin() + d_head + first, out);
        std::copy(d_fifo[m].begin(), d_fifo[m].begin() + (nout - first), out + first);
    }
    d_head = (d_head + nout) % d_capacity;
    d_count -= nout;
    const std::int64_t produced = static_cast<std::int64_t>(direct) + n_out;
    const auto w_first = static_cast<std::int64_t>(nitems_written(0));
    while (!d_pending.empty() && d_pending.front().index < w_first + produced) {
        const srs_detection d = d_pending.front();
        d_pending.pop_front();
        if (d.index < w_first)
            continue; // cannot happen: decided() guarantees it
        pmt::pmt_t v = pmt::make_dict();
        v = pmt::dict_add(v, tags::occasion(), pmt::from_uint64(d.occasion));
        v = pmt::dict_add(v, tags::metric(), pmt::from_double(d.metric));
        v = pmt::dict_add(v, keys::cfo_hz(), pmt::from_double(d.cfo_hz));
        v = pmt::dict_add(v, keys::fractional_offset(), pmt::from_double(d.frac));
        for (int m = 0; m < d_m; m++)
            add_item_tag(m,
                         static_cast<std::uint64_t>(d.index),
                         tags::srs_start(),
                         v,
                         alias_pmt());
        d_ndet++;
    }
    for (int m = 0; m < d_m; m++)
        produce(m, static_cast<int>(produced));

    if (produced == 0 && take == 0 && fifo_size() == 0 && n_in == 0 && starved)
        return WORK_DONE;
    return WORK_CALLED_PRODUCE;
}

} // namespace srsaoa
} // namespace gr
