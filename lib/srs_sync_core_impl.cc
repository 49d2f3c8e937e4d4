/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "srs_sync_core_impl.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <gnuradio/block_detail.h>
#include <gnuradio/buffer_reader.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace gr {
namespace srsaoa {

namespace {
// Pass-through copy with streaming (non-temporal) stores where the CPU has them: the
// output is written once and mostly not read back soon (cfr_extractor reads only the SRS
// symbols), so skipping the read-for-ownership of every destination line saves a third
// of the memory traffic of the largest copy in the receiver.
void stream_copy(const gr_complex* src, std::size_t n, gr_complex* dst)
{
#if defined(__SSE__)
    std::size_t i = 0;
    // one sample (8 bytes) until the destination is 16-byte aligned
    if ((reinterpret_cast<std::uintptr_t>(dst) & 15u) != 0 && n > 0) {
        dst[0] = src[0];
        i = 1;
    }
    const float* s = reinterpret_cast<const float*>(src + i);
    float* d = reinterpret_cast<float*>(dst + i);
    const std::size_t pairs = (n - i) / 2; // two samples per 16-byte store
    for (std::size_t k = 0; k < pairs; k++)
        _mm_stream_ps(d + 4 * k, _mm_loadu_ps(s + 4 * k));
    _mm_sfence();
    i += 2 * pairs;
    if (i < n)
        dst[i] = src[i];
#else
    std::copy(src, src + n, dst);
#endif
}
} // namespace

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
                                        double min_metric,
                                        const std::vector<std::int64_t>& period_pattern)
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
                                                         min_metric,
                                                         period_pattern);
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
                                       double min_metric,
                                       const std::vector<std::int64_t>& period_pattern)
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
               min_metric,
               period_pattern),
      d_m(num_channels), d_fs(sample_rate), d_head(0), d_count(0), d_ndet(0),
      d_resyncs(0), d_missed(0), d_gap_samples(0), d_state(0), d_time(sample_rate),
      d_rate_ok(true), d_in_nonfinite(false)
{
    d_capacity = static_cast<std::size_t>(d_kernel.lookahead()) + 65536;
    // Undecided samples wait in the input buffer, unconsumed, until the detector has seen
    // far enough past them (tracking: one search window plus the SRS symbols). GNU Radio
    // sizes the upstream buffer to at least twice a block's history, so a history of
    // three times that look-ahead keeps them there with room to spare, and the steady
    // state costs one copy per sample, like a plain copy block. Only acquisition's
    // longer look-ahead (or a smaller buffer than asked for) spills into the FIFO. The
    // history items themselves are never read (input_items[m] + history() - 1 is the
    // first new sample). Large buffers on both sides also mean few, long work calls: at
    // 4 x 61.44 Msps the default 8192-item buffers cost tens of thousands of thread
    // wake-ups per second (benchmarks/bench_frontend.py, docs/frontend.md).
    set_history(static_cast<unsigned>(3 * d_kernel.tracking_lookahead() + 1));
    d_fifo.assign(num_channels, std::vector<gr_complex>(d_capacity));
    d_ptrs.resize(num_channels);
    d_in.resize(num_channels);
    set_tag_propagation_policy(TPP_DONT);
    // output buffers of at least 4 slots (a power of two, >= 32768 items)
    int obuf = 1 << 15;
    while (obuf < 4 * static_cast<std::int64_t>(d_kernel.slot_length()))
        obuf *= 2;
    for (int m = 0; m < num_channels; m++)
        set_min_output_buffer(m, obuf);
    d_logger->debug("thresholds: acquisition {:.6f}, tracking {:.6f} (noise thresholds "
                    "{:.6f} / {:.6f} from pfa {:g}, guard min_metric {:.6f}; effective "
                    "pfa per slot {:.3g})",
                    d_kernel.acquisition_threshold(),
                    d_kernel.tracking_threshold(),
                    d_kernel.noise_acquisition_threshold(),
                    d_kernel.noise_tracking_threshold(),
                    d_kernel.pfa(),
                    d_kernel.min_metric(),
                    d_kernel.effective_pfa());
}

srs_sync_core_impl::upstream_view srs_sync_core_impl::upstream(int i) const
{
    // The one place this block looks past the work() arguments into the scheduler's
    // view of its inputs (gr::block_detail / gr::buffer_reader, public in GNU Radio 3.10
    // but not part of the documented work() contract). It needs two things work()'s
    // arguments do not give: whether the upstream has finished (to flush the undecided
    // samples at the end of the stream) and how many items the upstream buffer can hold
    // (undecided samples left unconsumed must never fill it, or the upstream could not
    // write and the block would wait forever). Outside a running flowgraph detail() is
    // null: the view is then unknown and the callers fall back to plain behaviour.
    upstream_view v{ false, false, std::numeric_limits<std::int64_t>::max(), 0 };
    const auto det = const_cast<srs_sync_core_impl*>(this)->detail();
    if (!det || i < 0 || i >= det->ninputs())
        return v;
    const auto in = det->input(static_cast<unsigned>(i));
    if (!in)
        return v;
    v.known = true;
    v.done = in->done();
    v.capacity = static_cast<std::int64_t>(in->max_possible_items_available());
    v.available = static_cast<std::int64_t>(in->items_available());
    return v;
}

void srs_sync_core_impl::publish_counters()
{
    d_missed.store(d_kernel.missed());
    d_state.store(d_kernel.state());
}

void srs_sync_core_impl::forecast(int, gr_vector_int& ninput_items_required)
{
    // ninput_items counts the history() - 1 old items in front of the new ones. Decided
    // samples already fed (or in the FIFO) need no new input; otherwise one sample
    // beyond those fed (no busy loop while starved), but never more than the buffer can
    // hold (general_work moves undecided samples to the FIFO before that). Nothing from
    // an input whose upstream has finished, so general_work can flush at the end.
    const int h = static_cast<int>(history()) - 1;
    const auto r0 = static_cast<std::int64_t>(nitems_read(0));
    const std::int64_t fed_ahead = std::max<std::int64_t>(0, d_kernel.fed() - r0);
    const std::int64_t dec = d_kernel.decided();
    const bool ready =
        (d_count > 0 && dec > static_cast<std::int64_t>(nitems_written(0))) ||
        (fed_ahead > 0 && dec > r0);
    for (std::size_t i = 0; i < ninput_items_required.size(); i++) {
        const upstream_view in = upstream(static_cast<int>(i));
        if (in.known && in.done) {
            ninput_items_required[i] = 0;
            continue;
        }
        std::int64_t need = ready ? 1 : fed_ahead + 1;
        if (in.known)
            need = std::min<std::int64_t>(need, in.capacity - h);
        ninput_items_required[i] = h + static_cast<int>(std::max<std::int64_t>(1, need));
    }
}

void srs_sync_core_impl::handle_tag(const gr::tag_t& tag)
{
    if (pmt::eq(tag.key, tags::rx_rate())) {
        double rate;
        if (!tag_utils::parse_rx_rate(tag.value, rate))
            return;
        const bool ok = tag_utils::rate_matches(rate, d_fs);
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
        double jump = 0.0;
        if (!d_time.update(tag.offset, tag.value, jump))
            return;
        if (!tag_utils::is_discontinuity(jump))
            return;
        // samples lost (overflow, capture gap): the occasion straddling the tag is
        // dropped with everything undecided, timing is derived afresh from the tag on,
        // and the occasions inside the gap are counted as missed (known length)
        const auto missing = static_cast<std::int64_t>(std::llround(jump));
        d_logger->warn(
            "rx_time jumps by {:.1f} samples at sample {} (overflow or capture "
            "gap): re-acquiring",
            jump,
            tag.offset);
        if (missing > 0) {
            d_kernel.restart_after_gap(missing);
            d_gap_samples.fetch_add(static_cast<std::uint64_t>(missing));
        } else {
            d_kernel.restart(); // time went back: a new stream, numbering afresh
        }
        d_resyncs++;
    }
}

void srs_sync_core_impl::feed(std::size_t from, std::size_t n)
{
    if (n == 0)
        return;
    for (int m = 0; m < d_m; m++)
        d_ptrs[m] = d_in[m] + from;
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

void srs_sync_core_impl::push(std::size_t from, std::size_t n)
{
    // append to the rings (the caller never exceeds the free space)
    const std::size_t tail = (d_head + d_count) % d_capacity;
    const std::size_t first = std::min(n, d_capacity - tail);
    for (int m = 0; m < d_m; m++) {
        const gr_complex* p = d_in[m] + from;
        std::copy(p, p + first, d_fifo[m].begin() + tail);
        std::copy(p + first, p + n, d_fifo[m].begin());
    }
    d_count += n;
}

void srs_sync_core_impl::feed_range(std::size_t from, std::size_t n)
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
        feed(pos, at - pos);
        pos = at;
        handle_tag(t);
    }
    feed(pos, from + n - pos);
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
    // input_items[m] starts history() - 1 old items before the first new one
    const int h = static_cast<int>(history()) - 1;
    for (int m = 0; m < d_m; m++)
        d_in[m] = static_cast<const gr_complex*>(input_items[m]) + h;
    int n_in = ninput_items[0] - h;
    for (int m = 1; m < d_m; m++)
        n_in = std::min(n_in, ninput_items[m] - h);
    n_in = std::max(n_in, 0);
    const auto r0 = static_cast<std::int64_t>(nitems_read(0));

    // 1. Feed every new sample to the detector. Samples fed earlier but not consumed
    //    (undecided ones left in the input buffer) are not fed again.
    const auto fed_ahead = static_cast<std::size_t>(
        std::max<std::int64_t>(0, std::min<std::int64_t>(d_kernel.fed() - r0, n_in)));
    if (static_cast<std::size_t>(n_in) > fed_ahead)
        feed_range(fed_ahead, static_cast<std::size_t>(n_in) - fed_ahead);
    // End of stream: an input whose upstream has finished and whose every sample has
    // been fed means no more complete samples; everything fed is decided. (done() first,
    // then the count: items written before done() are all visible then.)
    bool starved = false;
    for (int m = 0; m < d_m; m++) {
        const upstream_view in = upstream(m);
        if (!in.known || !in.done)
            continue;
        if (d_kernel.fed() >= r0 + in.available - h)
            starved = true;
    }
    if (starved)
        d_kernel.finish();

    // 2. Output decided samples: the FIFO's first (they precede the input's), then
    //    straight from the input buffer once the FIFO is empty.
    const auto w_first = static_cast<std::int64_t>(nitems_written(0));
    const std::int64_t decided = d_kernel.decided();
    std::int64_t n_fifo =
        std::min<std::int64_t>({ static_cast<std::int64_t>(noutput_items),
                                 static_cast<std::int64_t>(d_count),
                                 decided - w_first });
    n_fifo = std::max<std::int64_t>(n_fifo, 0);
    const auto nf = static_cast<std::size_t>(n_fifo);
    const std::size_t first = std::min(nf, d_capacity - d_head);
    for (int m = 0; m < d_m; m++) {
        auto* out = static_cast<gr_complex*>(output_items[m]);
        std::copy(d_fifo[m].begin() + d_head, d_fifo[m].begin() + d_head + first, out);
        std::copy(d_fifo[m].begin(), d_fifo[m].begin() + (nf - first), out + first);
    }
    d_head = (d_head + nf) % d_capacity;
    d_count -= nf;
    std::size_t direct = 0;
    if (d_count == 0) { // the next output sample is input sample r0
        direct = static_cast<std::size_t>(std::max<std::int64_t>(
            0,
            std::min<std::int64_t>({ static_cast<std::int64_t>(n_in),
                                     static_cast<std::int64_t>(noutput_items) - n_fifo,
                                     decided - r0 })));
        for (int m = 0; m < d_m; m++)
            stream_copy(d_in[m], direct, static_cast<gr_complex*>(output_items[m]) + nf);
    }
    const std::int64_t produced = n_fifo + static_cast<std::int64_t>(direct);

    // 3. Undecided samples stay in the input buffer unless they fill more than half of
    //    it (acquisition's look-ahead, or an upstream buffer smaller than asked for):
    //    then they move to the FIFO (with any decided ones before them), so the upstream
    //    can always write. Decided samples waiting for output space are only
    //    backpressure: they never go through the FIFO.
    std::size_t moved = 0;
    const std::size_t left = static_cast<std::size_t>(n_in) - direct;
    if (left > 0) {
        std::int64_t space = std::numeric_limits<std::int64_t>::max();
        for (int m = 0; m < d_m; m++)
            space = std::min<std::int64_t>(space, upstream(m).capacity - h);
        const std::int64_t undecided =
            n_in - std::min<std::int64_t>(n_in, std::max<std::int64_t>(0, decided - r0));
        if (undecided > space / 2) {
            moved = std::min(left, d_capacity - d_count);
            push(direct, moved);
        }
    }
    if (direct + moved > 0)
        consume_each(static_cast<int>(direct + moved));

    for (const auto& d : d_kernel.take_detections())
        d_pending.push_back(d);

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
    publish_counters();

    if (produced == 0 && d_count == 0 && n_in == 0 && starved)
        return WORK_DONE;
    return WORK_CALLED_PRODUCE;
}

} // namespace srsaoa
} // namespace gr
