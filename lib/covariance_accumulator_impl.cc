/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "covariance_accumulator_impl.h"
#include "pdu_utils.h"
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <stdexcept>
#include <string>

namespace gr {
namespace srsaoa {

covariance_accumulator::sptr covariance_accumulator::make(int num_channels,
                                                          int n_occasions,
                                                          bool forward_backward,
                                                          double forgetting)
{
    if (num_channels < 1) {
        throw std::invalid_argument(
            "covariance_accumulator: num_channels must be >= 1, got " +
            std::to_string(num_channels));
    }
    return gnuradio::make_block_sptr<covariance_accumulator_impl>(
        num_channels, n_occasions, forward_backward, forgetting);
}

covariance_accumulator_impl::covariance_accumulator_impl(int num_channels,
                                                         int n_occasions,
                                                         bool forward_backward,
                                                         double forgetting)
    : gr::block("covariance_accumulator",
                gr::io_signature::make(0, 0, 0),
                gr::io_signature::make(0, 0, 0)),
      d_kernel(num_channels, forward_backward, forgetting), d_n_occasions(n_occasions),
      d_since_output(0), d_bad_burst(0), d_bound(0, "CFR PDUs")
{
    if (n_occasions < 1) {
        throw std::invalid_argument(
            "covariance_accumulator: n_occasions must be >= 1, got " +
            std::to_string(n_occasions));
    }
    message_port_register_in(ports::cfr());
    message_port_register_in(ports::reset());
    message_port_register_out(ports::covariance());
    message_port_register_out(ports::skipped());
    set_msg_handler(ports::cfr(), [this](const pmt::pmt_t& msg) { handle_cfr(msg); });
    set_msg_handler(ports::reset(), [this](const pmt::pmt_t& msg) { handle_reset(msg); });
}

void covariance_accumulator_impl::set_max_queue(int max_queue)
{
    if (max_queue < 0)
        throw std::invalid_argument("covariance_accumulator: max_queue must be >= 0");
    d_bound.set_max_queue(max_queue);
}

void covariance_accumulator_impl::skip(const pmt::pmt_t& meta, const char* why)
{
    pmt::pmt_t out = pmt::make_dict();
    if (pmt::is_dict(meta)) {
        for (const auto& key : { keys::srs_occasion(), keys::sample_index() })
            if (pmt::dict_has_key(meta, key))
                out = pmt::dict_add(out, key, pmt::dict_ref(meta, key, pmt::PMT_NIL));
    }
    out = pmt::dict_add(out, keys::skipped(), pmt::intern(why));
    message_port_pub(ports::skipped(),
                     pmt::cons(out, pmt::init_c32vector(0, std::vector<gr_complex>())));
}

void covariance_accumulator_impl::handle_reset(const pmt::pmt_t&)
{
    d_kernel.reset();
    d_since_output = 0;
    d_logger->info("reset: covariance sums cleared");
}

void covariance_accumulator_impl::handle_cfr(const pmt::pmt_t& msg)
{
    if (d_bound.shed(this, ports::cfr(), d_logger))
        return;
    pmt::pmt_t meta = pmt::PMT_NIL;
    const gr_complex* data = nullptr;
    std::size_t n = 0;
    std::vector<std::int64_t> shape;
    try {
        split_c32_pdu(msg, meta, data, n);
        pmt::pmt_t shape_pmt = pmt::dict_ref(meta, keys::shape(), pmt::PMT_NIL);
        if (pmt::is_null(shape_pmt) && !pmt::dict_has_key(meta, keys::shape()))
            throw pdu_error("CFR PDU has no 'shape' in its meta");
        shape = to_int_list(shape_pmt, "'shape'");
        if (shape.size() != 3)
            throw pdu_error("'shape' must be [M, S, K], got " +
                            std::to_string(shape.size()) + " dimensions");
        if (shape[0] != d_kernel.num_elements())
            throw pdu_error("CFR has M = " + std::to_string(shape[0]) +
                            " elements, block expects num_channels = " +
                            std::to_string(d_kernel.num_elements()));
        // compare without forming M*S*K, which can overflow int64 for hostile shapes
        const auto len = static_cast<std::int64_t>(n);
        if (shape[1] < 1 || shape[2] < 1 || len % shape[0] != 0 ||
            len / shape[0] % shape[1] != 0 || len / shape[0] / shape[1] != shape[2])
            throw pdu_error("vector length " + std::to_string(n) +
                            " does not match shape [" + std::to_string(shape[0]) + ", " +
                            std::to_string(shape[1]) + ", " + std::to_string(shape[2]) +
                            "]");
    } catch (const pdu_error& e) {
        d_logger->error("dropping malformed CFR PDU: {}", e.what());
        skip(meta, "malformed");
        return;
    }

    if (!d_kernel.add(data, n, shape[1], shape[2])) {
        if (d_bad_burst == 0) {
            d_logger->warn("dropping CFR PDU with non-finite values (further drops in "
                           "this burst are not logged)");
        }
        d_bad_burst++;
        skip(meta, "non-finite");
        return;
    }
    if (d_bad_burst > 0) {
        d_logger->info("non-finite burst ended after {} dropped CFR PDU(s)", d_bad_burst);
        d_bad_burst = 0;
    }

    if (++d_since_output < d_n_occasions) {
        skip(meta, "accumulated");
        return;
    }
    d_since_output = 0;

    const double snapshots = d_kernel.num_snapshots();
    const auto occasions = d_kernel.num_occasions();
    std::vector<gr_complex> r = d_kernel.read_out();
    const int m = d_kernel.num_elements();
    pmt::pmt_t out_meta = meta;
    out_meta = pmt::dict_add(
        out_meta, keys::shape(), pmt::init_s32vector(2, std::vector<int32_t>{ m, m }));
    out_meta =
        pmt::dict_add(out_meta, keys::num_snapshots(), pmt::from_double(snapshots));
    out_meta = pmt::dict_add(out_meta, keys::occasions(), pmt::from_uint64(occasions));
    out_meta = pmt::dict_add(
        out_meta, keys::forward_backward(), pmt::from_bool(d_kernel.forward_backward()));
    if (d_bound.dropped() > 0)
        out_meta =
            pmt::dict_add(out_meta, keys::dropped(), pmt::from_uint64(d_bound.dropped()));
    message_port_pub(ports::covariance(),
                     pmt::cons(out_meta, pmt::init_c32vector(r.size(), r)));
}

} // namespace srsaoa
} // namespace gr
