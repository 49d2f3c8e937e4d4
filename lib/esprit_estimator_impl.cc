/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "esprit_estimator_impl.h"
#include "pdu_utils.h"
#include "tag_utils.h"
#include <algorithm>
#include <cmath>
#include <gnuradio/io_signature.h>
#include <gnuradio/srsaoa/constants.h>
#include <limits>
#include <stdexcept>

namespace gr {
namespace srsaoa {

esprit_estimator::sptr esprit_estimator::make(double spacing_wavelengths,
                                              int order,
                                              const std::string& order_method,
                                              int max_order,
                                              bool tls,
                                              double fov_min_deg,
                                              double fov_max_deg,
                                              int max_queue)
{
    return gnuradio::make_block_sptr<esprit_estimator_impl>(spacing_wavelengths,
                                                            order,
                                                            order_method,
                                                            max_order,
                                                            tls,
                                                            fov_min_deg,
                                                            fov_max_deg,
                                                            max_queue);
}

esprit_estimator_impl::esprit_estimator_impl(double spacing_wavelengths,
                                             int order,
                                             const std::string& order_method,
                                             int max_order,
                                             bool tls,
                                             double fov_min_deg,
                                             double fov_max_deg,
                                             int max_queue)
    : gr::block("esprit_estimator",
                gr::io_signature::make(0, 0, 0),
                gr::io_signature::make(0, 0, 0)),
      d_kernel(spacing_wavelengths, tls, fov_min_deg, fov_max_deg), d_order(order),
      d_mdl(order_method == "mdl"), d_max_order(max_order),
      d_bound(max_queue, "covariance PDUs")
{
    if (order < 0)
        throw std::invalid_argument(
            "esprit_estimator: order must be >= 0 (0 = automatic)");
    if (order_method != "aic" && order_method != "mdl")
        throw std::invalid_argument("esprit_estimator: order_method must be aic or mdl");
    if (max_order < 0)
        throw std::invalid_argument("esprit_estimator: max_order must be >= 0 (0 = M-1)");
    set_max_queue(max_queue);
    message_port_register_in(ports::covariance());
    message_port_register_out(ports::estimate());
    message_port_register_out(ports::skipped());
    set_msg_handler(ports::covariance(), [this](const pmt::pmt_t& msg) { handle(msg); });
}

void esprit_estimator_impl::set_max_queue(int max_queue)
{
    if (max_queue < 0)
        throw std::invalid_argument(
            "esprit_estimator: max_queue must be >= 0 (0 = no bound)");
    d_bound.set_max_queue(max_queue);
}

void esprit_estimator_impl::skip(const pmt::pmt_t& meta, const std::string& why)
{
    pmt::pmt_t out = pmt::make_dict();
    if (pmt::is_dict(meta)) {
        for (const auto& key : { keys::srs_occasion(), keys::sample_index() })
            if (pmt::dict_has_key(meta, key))
                out = pmt::dict_add(out, key, pmt::dict_ref(meta, key, pmt::PMT_NIL));
    }
    out = pmt::dict_add(out, keys::method(), pmt::intern("esprit"));
    out = pmt::dict_add(out, keys::skipped(), pmt::intern(why));
    d_skipped++;
    message_port_pub(ports::skipped(),
                     pmt::cons(out, pmt::init_c32vector(0, std::vector<gr_complex>())));
}

namespace {
pmt::pmt_t f32(const std::vector<double>& v)
{
    std::vector<float> f(v.begin(), v.end());
    return pmt::init_f32vector(f.size(), f);
}
} // namespace

void esprit_estimator_impl::handle(const pmt::pmt_t& msg)
{
    if (d_bound.shed(this, ports::covariance(), d_logger))
        return;
    // an upstream stage's skip notice travels down the branch in order with the data
    if (pmt::is_pair(msg) && pmt::is_dict(pmt::car(msg)) &&
        pmt::dict_has_key(pmt::car(msg), keys::skipped())) {
        message_port_pub(ports::skipped(), msg);
        return;
    }
    pmt::pmt_t meta = pmt::PMT_NIL;
    const gr_complex* data = nullptr;
    std::size_t n = 0;
    int m = 0;
    try {
        split_c32_pdu(msg, meta, data, n);
        m = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
        if (m == 0 || static_cast<std::size_t>(m) * static_cast<std::size_t>(m) != n)
            throw pdu_error("covariance vector length " + std::to_string(n) +
                            " is not a square M*M");
    } catch (const pdu_error& e) {
        d_logger->error("dropping malformed covariance PDU: {}", e.what());
        skip(meta, "malformed");
        return;
    }
    std::vector<std::complex<double>> r(data, data + n);
    const pmt::pmt_t occ = pmt::dict_ref(meta, keys::srs_occasion(), pmt::PMT_NIL);
    const pmt::pmt_t ns = pmt::dict_ref(meta, keys::num_snapshots(), pmt::PMT_NIL);
    const bool have_n = pmt::is_number(ns) && !pmt::is_complex(ns);
    const double nsnap = have_n ? pmt::to_double(ns) : -1.0;
    esprit_estimate est;
    try {
        int d;
        const pmt::pmt_t mo = pmt::dict_ref(meta, keys::order(), pmt::PMT_NIL);
        if (d_order > 0) {
            d = d_order;
        } else if (pmt::is_integer(mo)) {
            const long given = pmt::to_long(mo);
            if (given < 1)
                throw std::invalid_argument("meta 'order' " + std::to_string(given) +
                                            " is below 1");
            d = static_cast<int>(std::min<long>(given, m - 1)); // no int truncation
        } else {
            if (!have_n)
                throw std::invalid_argument(
                    "order 0 needs meta 'order' or 'num_snapshots' for AIC/MDL");
            d = esprit_kernel::estimate_order(r, m, nsnap, d_mdl);
            if (d_max_order > 0)
                d = std::min(d, d_max_order);
        }
        d = std::min(d, m - 1);
        est = d_kernel.estimate(r, m, d, have_n ? nsnap : -1.0);
    } catch (const std::exception& e) {
        d_logger->warn("occasion {}: no estimate: {}",
                       pmt::is_null(occ) ? std::string("None") : pmt::write_string(occ),
                       e.what());
        skip(meta, e.what());
        return;
    }
    pmt::pmt_t out = pmt::make_dict();
    out = pmt::dict_add(out, keys::method(), pmt::intern("esprit"));
    out = pmt::dict_add(out, keys::order(), pmt::from_long(est.order));
    out = pmt::dict_add(out, keys::aoa_deg(), f32(est.aoa_deg));
    out = pmt::dict_add(out, keys::power(), f32(est.power));
    const pmt::pmt_t snr = pmt::dict_ref(meta, keys::snr_db(), pmt::PMT_NIL);
    out = pmt::dict_add(out,
                        keys::snr_db(),
                        pmt::from_double(pmt::is_number(snr) && !pmt::is_complex(snr)
                                             ? pmt::to_double(snr)
                                             : est.snr_db));
    out = pmt::dict_add(out, keys::crb_deg(), f32(est.crb_deg));
    // occasion, sample index and UHD's rx_time go through as the very same pmt values
    for (const auto& key :
         { keys::srs_occasion(), keys::sample_index(), keys::rx_time() })
        if (pmt::dict_has_key(meta, key))
            out = pmt::dict_add(out, key, pmt::dict_ref(meta, key, pmt::PMT_NIL));
    // the SRS occasions behind the covariance (covariance_accumulator), if more than one
    const pmt::pmt_t n_occ = pmt::dict_ref(meta, keys::occasions(), pmt::PMT_NIL);
    std::uint64_t n_combined = 0; // a negative or non-integer count is ignored
    if (tag_utils::count_value(n_occ, n_combined) && n_combined > 1)
        out = pmt::dict_add(out, keys::occasions(), n_occ);
    std::uint64_t dropped = d_bound.dropped();
    const pmt::pmt_t up = pmt::dict_ref(meta, keys::dropped(), pmt::PMT_NIL);
    std::uint64_t upstream = 0;
    if (tag_utils::count_value(up, upstream))
        dropped += upstream;
    if (dropped > 0)
        out = pmt::dict_add(out, keys::dropped(), pmt::from_uint64(dropped));
    d_estimates++;
    message_port_pub(ports::estimate(),
                     pmt::cons(out, pmt::init_c32vector(0, std::vector<gr_complex>())));
}

} // namespace srsaoa
} // namespace gr
