/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "cfr_extractor_core_impl.h"
#include <algorithm>
#include <boost/thread/thread.hpp>
#include <cmath>
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <limits>
#include <stdexcept>
#include <string>

namespace gr {
namespace srsaoa {

cfr_extractor_core::sptr
cfr_extractor_core::make(int num_channels,
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
                         const std::vector<gr_complex>& calibration)
{
    return gnuradio::make_block_sptr<cfr_extractor_core_impl>(num_channels,
                                                              fft_size,
                                                              window_offsets,
                                                              subcarriers,
                                                              subcarrier_bins,
                                                              sequence,
                                                              noise_bins,
                                                              cp_backoff,
                                                              scs_hz,
                                                              sample_rate,
                                                              cfo_correction,
                                                              calibration);
}

cfr_extractor_core_impl::cfr_extractor_core_impl(
    int num_channels,
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
    const std::vector<gr_complex>& calibration)
    : gr::sync_block("cfr_extractor_core",
                     gr::io_signature::make(std::max(1, num_channels),
                                            std::max(1, num_channels),
                                            sizeof(gr_complex)),
                     gr::io_signature::make(0, 0, 0)),
      d_kernel(num_channels,
               fft_size,
               window_offsets,
               subcarrier_bins,
               sequence,
               noise_bins,
               cp_backoff,
               sample_rate,
               calibration),
      d_m(num_channels), d_subcarriers(subcarriers), d_scs(scs_hz), d_fs(sample_rate),
      d_cfo(cfo_correction), d_time(sample_rate), d_rate_ok(true), d_in_bad(false),
      d_ncfr(0), d_ndropped(0), d_ngap(0), d_have_freq(false), d_freq(0.0), d_retunes(0),
      d_has_cal(!calibration.empty()), d_window(0), d_consumers(0), d_held(0),
      d_max_in_flight(0)
{
    if (subcarriers.size() != subcarrier_bins.size())
        throw std::invalid_argument(
            "cfr_extractor: subcarriers and subcarrier_bins must have equal length");
    if (!(scs_hz > 0.0))
        throw std::invalid_argument("cfr_extractor: scs_hz must be positive");
    message_port_register_out(ports::cfr());
    message_port_register_in(ports::ack());
    set_msg_handler(ports::ack(), [this](const pmt::pmt_t& msg) { handle_ack(msg); });
    d_h.resize(static_cast<std::size_t>(num_channels) * d_kernel.num_symbols() *
               d_kernel.num_subcarriers());
    d_sym.resize(static_cast<std::size_t>(num_channels) * d_kernel.num_symbols());
}

void cfr_extractor_core_impl::set_flow_control(int window, int consumers)
{
    if (window < 0 || consumers < 0 || (window > 0 && consumers < 1))
        throw std::invalid_argument("cfr_extractor: flow control needs window >= 0 and, "
                                    "with a window, consumers >= 1");
    std::lock_guard<std::mutex> lock(d_fc_mutex);
    d_window = window;
    d_consumers = consumers;
    if (window == 0)
        d_in_flight.clear();
}

void cfr_extractor_core_impl::release_locked()
{
    // everything up to the slowest consumer's acknowledgement is done
    if (d_acked.size() < static_cast<std::size_t>(std::max(d_consumers, 1)))
        return;
    std::uint64_t done = std::numeric_limits<std::uint64_t>::max();
    for (const auto& kv : d_acked)
        done = std::min(done, kv.second);
    while (!d_in_flight.empty() && d_in_flight.front() < done)
        d_in_flight.pop_front();
}

void cfr_extractor_core_impl::handle_ack(const pmt::pmt_t& msg)
{
    if (!pmt::is_dict(msg)) {
        d_logger->warn("ignoring an acknowledgement that is not a dict");
        return;
    }
    const pmt::pmt_t who = pmt::dict_ref(msg, keys::consumer(), pmt::PMT_NIL);
    const pmt::pmt_t idx = pmt::dict_ref(msg, keys::sample_index(), pmt::PMT_NIL);
    std::uint64_t done = 0;
    if (!(pmt::is_symbol(who) && tag_utils::count_value(idx, done))) {
        d_logger->warn(
            "ignoring an acknowledgement without consumer and a sample_index >= 0");
        return;
    }
    std::lock_guard<std::mutex> lock(d_fc_mutex);
    auto& v = d_acked[pmt::symbol_to_string(who)];
    v = std::max(v, done + 1);
    release_locked();
}

void cfr_extractor_core_impl::set_calibration(const std::vector<gr_complex>& calibration)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_kernel.set_calibration(calibration);
    d_has_cal = !calibration.empty();
}

bool cfr_extractor_core_impl::start_occasion(const gr::tag_t& tag,
                                             gr_vector_const_void_star& input_items,
                                             std::uint64_t r0,
                                             std::uint64_t n,
                                             bool direct_ok)
{
    occasion occ;
    occ.start = tag.offset;
    occ.tag_value = tag.value;
    occ.cfo_hz = 0.0;
    if (pmt::is_dict(tag.value)) {
        pmt::pmt_t c = pmt::dict_ref(tag.value, keys::cfo_hz(), pmt::PMT_NIL);
        double cfo = 0.0;
        if (tag_utils::real_value(c, cfo) && std::isfinite(cfo))
            occ.cfo_hz = cfo;
    }
    occ.has_time = d_time.known();
    occ.time_full = 0;
    occ.time_frac = 0.0;
    if (occ.has_time)
        d_time.time_at(tag.offset, occ.time_full, occ.time_frac);
    const std::size_t ns = d_kernel.num_symbols();
    const std::size_t nfft = static_cast<std::size_t>(d_kernel.fft_size());
    // The usual case: the whole occasion is in this call's input (and none waits before
    // it, and no time discontinuity inside it): FFT straight from the input buffer, no
    // window copies.
    if (direct_ok && d_pending.empty() &&
        tag.offset + static_cast<std::uint64_t>(d_kernel.span_end()) <= r0 + n) {
        for (int m = 0; m < d_m; m++)
            for (std::size_t s = 0; s < ns; s++)
                d_sym[static_cast<std::size_t>(m) * ns + s] =
                    static_cast<const gr_complex*>(input_items[m]) +
                    (tag.offset + static_cast<std::uint64_t>(d_kernel.window_start(s)) -
                     r0);
        finish_occasion(occ, d_sym.data());
        return true;
    }
    const std::size_t len = ns * nfft;
    if (!d_pool.empty()) { // reuse the windows of a finished occasion
        occ.win = std::move(d_pool.back());
        d_pool.pop_back();
    } else {
        occ.win.assign(d_m, std::vector<gr_complex>(len));
    }
    d_pending.push_back(std::move(occ));
    return false;
}

void cfr_extractor_core_impl::drop_gap(std::uint64_t start, std::uint64_t jump_offset)
{
    d_logger->warn("rx_time discontinuity at sample {} inside the SRS occasion at sample "
                   "{}: no CFR",
                   jump_offset,
                   start);
    d_ngap++;
    d_ndropped++;
}

void cfr_extractor_core_impl::finish_occasion(occasion& occ, const gr_complex* const* sym)
{
    if (!d_rate_ok) {
        d_ndropped++;
        return;
    }
    double snr_db = 0.0;
    bool ok;
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        ok = d_kernel.estimate_windows(
            sym, d_cfo.load() ? occ.cfo_hz : 0.0, d_h.data(), snr_db);
    }
    if (!ok) {
        if (!d_in_bad)
            d_logger->warn("SRS occasion at sample {} holds non-finite samples: no CFR "
                           "(further drops in this burst are not logged)",
                           occ.start);
        d_in_bad = true;
        d_ndropped++;
        return;
    }
    if (d_in_bad)
        d_logger->info("non-finite burst ended at the occasion at sample {}", occ.start);
    d_in_bad = false;

    std::uint64_t occasion_no = d_ncfr;
    double frac = 0.0;
    if (pmt::is_dict(occ.tag_value)) {
        pmt::pmt_t o = pmt::dict_ref(occ.tag_value, tags::occasion(), pmt::PMT_NIL);
        tag_utils::count_value(o, occasion_no); // kept as counted unless a count >= 0
        pmt::pmt_t f =
            pmt::dict_ref(occ.tag_value, keys::fractional_offset(), pmt::PMT_NIL);
        if (!tag_utils::real_value(f, frac) || !std::isfinite(frac))
            frac = 0.0;
    }
    const auto m = static_cast<std::int32_t>(d_m);
    const auto s = static_cast<std::int32_t>(d_kernel.num_symbols());
    const auto k = static_cast<std::int32_t>(d_kernel.num_subcarriers());
    pmt::pmt_t meta = pmt::make_dict();
    meta = pmt::dict_add(meta, keys::srs_occasion(), pmt::from_uint64(occasion_no));
    meta = pmt::dict_add(meta, keys::sample_index(), pmt::from_uint64(occ.start));
    if (occ.has_time)
        meta = pmt::dict_add(meta,
                             keys::rx_time(),
                             pmt::make_tuple(pmt::from_uint64(occ.time_full),
                                             pmt::from_double(occ.time_frac)));
    meta = pmt::dict_add(meta,
                         keys::shape(),
                         pmt::init_s32vector(3, std::vector<std::int32_t>{ m, s, k }));
    meta =
        pmt::dict_add(meta, keys::subcarriers(), pmt::init_s32vector(k, d_subcarriers));
    meta = pmt::dict_add(meta, keys::scs_hz(), pmt::from_double(d_scs));
    meta = pmt::dict_add(meta, keys::snr_db(), pmt::from_double(snr_db));
    meta = pmt::dict_add(meta, keys::cfo_hz(), pmt::from_double(occ.cfo_hz));
    meta = pmt::dict_add(meta, keys::fractional_offset(), pmt::from_double(frac));
    {
        std::lock_guard<std::mutex> lock(d_fc_mutex);
        if (d_window > 0) {
            d_in_flight.push_back(occ.start);
            if (d_in_flight.size() > d_max_in_flight.load())
                d_max_in_flight.store(d_in_flight.size());
        }
    }
    message_port_pub(ports::cfr(), pmt::cons(meta, pmt::init_c32vector(d_h.size(), d_h)));
    d_ncfr++;
}

int cfr_extractor_core_impl::work(int noutput_items,
                                  gr_vector_const_void_star& input_items,
                                  gr_vector_void_star&)
{
    const int n = noutput_items;
    if (n <= 0)
        return 0;
    {
        std::unique_lock<std::mutex> lock(d_fc_mutex);
        if (d_window > 0 && d_in_flight.size() >= static_cast<std::size_t>(d_window)) {
            // out of credit: consume nothing; the acknowledgements are handled between
            // work calls, so wait briefly (an interruption point: stop() ends it)
            lock.unlock();
            d_held++;
            boost::this_thread::sleep(boost::posix_time::microseconds(500));
            return 0;
        }
    }
    const std::uint64_t r0 = nitems_read(0);
    const std::uint64_t r1 = r0 + static_cast<std::uint64_t>(n);

    std::vector<gr::tag_t> tags;
    get_tags_in_range(tags, 0, r0, r1);
    std::sort(tags.begin(), tags.end(), gr::tag_t::offset_compare);
    // time discontinuities in this call (a probe: the tracker itself follows the tags in
    // order below), so an occasion with one inside is never estimated directly
    std::vector<std::uint64_t> jumps;
    {
        tag_utils::rx_time_tracker probe = d_time;
        double jump;
        for (const auto& t : tags)
            if (pmt::eq(t.key, keys::rx_time()) &&
                probe.update(t.offset, t.value, jump) &&
                tag_utils::is_discontinuity(jump))
                jumps.push_back(t.offset);
    }
    const auto span = static_cast<std::uint64_t>(d_kernel.span_end());
    for (const auto& t : tags) {
        if (pmt::eq(t.key, keys::rx_time())) {
            double jump = 0.0;
            if (!d_time.update(t.offset, t.value, jump) ||
                !tag_utils::is_discontinuity(jump))
                continue;
            // an occasion waiting for samples beyond the gap: drop it
            for (auto it = d_pending.begin(); it != d_pending.end();) {
                if (it->start < t.offset && t.offset < it->start + span) {
                    drop_gap(it->start, t.offset);
                    d_pool.push_back(std::move(it->win));
                    it = d_pending.erase(it);
                } else {
                    ++it;
                }
            }
        } else if (pmt::eq(t.key, tags::rx_rate())) {
            double rate;
            if (tag_utils::parse_rx_rate(t.value, rate)) {
                const bool ok = tag_utils::rate_matches(rate, d_fs);
                if (!ok && d_rate_ok)
                    d_logger->error("rx_rate tag {} Hz differs from sample_rate {} Hz: "
                                    "no CFR until they match",
                                    rate,
                                    d_fs);
                d_rate_ok = ok;
            }
        } else if (pmt::eq(t.key, tags::rx_freq())) {
            double f = 0.0;
            if (tag_utils::real_value(t.value, f)) {
                if (d_have_freq && std::abs(f - d_freq) > 0.5) {
                    d_retunes++;
                    if (has_calibration())
                        d_logger->warn(
                            "rx_freq changed from {} Hz to {} Hz at sample {}: the N310 "
                            "re-randomises its inter-channel phases at every tune, the "
                            "phase calibration no longer holds (run srsaoa calibrate "
                            "again)",
                            d_freq,
                            f,
                            t.offset);
                }
                d_have_freq = true;
                d_freq = f;
            }
        } else if (pmt::eq(t.key, tags::srs_start())) {
            bool straddles = false;
            for (auto j : jumps)
                straddles = straddles || (t.offset < j && j < t.offset + span);
            start_occasion(t, input_items, r0, static_cast<std::uint64_t>(n), !straddles);
        }
    }

    // copy the parts of the FFT windows that lie in [r0, r1)
    const std::size_t nfft = static_cast<std::size_t>(d_kernel.fft_size());
    for (auto& occ : d_pending) {
        for (std::size_t s = 0; s < d_kernel.num_symbols(); s++) {
            const std::uint64_t w0 = occ.start + d_kernel.window_start(s);
            const std::uint64_t w1 = w0 + nfft;
            const std::uint64_t a = std::max(w0, r0), b = std::min(w1, r1);
            if (a >= b)
                continue;
            for (int m = 0; m < d_m; m++) {
                const auto* in = static_cast<const gr_complex*>(input_items[m]);
                std::copy(in + (a - r0),
                          in + (b - r0),
                          occ.win[m].begin() + s * nfft + (a - w0));
            }
        }
    }
    while (!d_pending.empty() &&
           d_pending.front().start + static_cast<std::uint64_t>(d_kernel.span_end()) <=
               r1) {
        occasion& occ = d_pending.front();
        const std::size_t ns = d_kernel.num_symbols();
        for (int m = 0; m < d_m; m++)
            for (std::size_t s = 0; s < ns; s++)
                d_sym[static_cast<std::size_t>(m) * ns + s] =
                    occ.win[m].data() + s * nfft;
        finish_occasion(occ, d_sym.data());
        d_pool.push_back(std::move(occ.win));
        d_pending.pop_front();
    }
    return n;
}

} // namespace srsaoa
} // namespace gr
