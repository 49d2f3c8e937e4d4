/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_H
#define INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_H

#include <cstdint>
#include <gnuradio/block.h>
#include <gnuradio/srsaoa/api.h>
#include <string>

namespace gr {
namespace srsaoa {

/*!
 * \brief AIC/MDL order and ESPRIT on covariance PDUs, in C++ (one estimate PDU each).
 * \ingroup srsaoa
 *
 * \details
 * The line-rate equivalent of order_estimator -> doa_estimator(method "esprit") on the
 * covariance PDUs of covariance_accumulator (esprit_kernel; the Python estimators are
 * its oracle). In \p covariance: covariance PDUs (R as an M*M c32 vector, meta
 * \p num_snapshots). The order is \p order when > 0, else the PDU's meta \p order, else
 * AIC (or MDL with \p order_method "mdl") on R and N = \p num_snapshots, capped at
 * \p max_order (0 = M - 1).
 *
 * Out \p estimate: meta \p method "esprit", \p order, \p aoa_deg (f32, strongest path
 * first), \p power (f32), \p snr_db (the input's when it has one), \p crb_deg (f32),
 * \p srs_occasion, \p sample_index and \p rx_time passed through as the same values,
 * and \p dropped (inputs this branch dropped so far, when any); empty c32 vector
 * (DESIGN section 6). An input without an estimate (malformed, non-finite, singular)
 * is logged and announced on \p skipped (meta \p sample_index, \p srs_occasion,
 * \p method, \p skipped = the reason), for the branch's result_sink to acknowledge.
 * Skip notices of upstream stages (PDUs with meta \p skipped arriving on \p covariance,
 * e.g. from covariance_accumulator's \p skipped) are passed on to \p skipped in order.
 *
 * \p max_queue > 0 bounds the input queue: when the block falls behind (a live radio),
 * the oldest covariance PDUs are dropped and counted (num_dropped(), meta \p dropped),
 * one warning per burst. 0 never drops (a recording: the source is held back instead).
 */
class SRSAOA_API esprit_estimator : virtual public gr::block
{
public:
    typedef std::shared_ptr<esprit_estimator> sptr;

    /*!
     * \param spacing_wavelengths element spacing d/lambda (> 0).
     * \param order number of paths (0 = from the PDU or AIC/MDL).
     * \param order_method "aic" or "mdl".
     * \param max_order cap on the order (0 = M - 1).
     * \param tls total least squares (true) or least squares rotation.
     * \param fov_min_deg, fov_max_deg field of view, -90 <= min < max <= 90.
     * \param max_queue input queue bound (0 = unbounded).
     */
    static sptr make(double spacing_wavelengths,
                     int order,
                     const std::string& order_method,
                     int max_order,
                     bool tls,
                     double fov_min_deg,
                     double fov_max_deg,
                     int max_queue);

    virtual std::uint64_t num_estimates() const = 0;
    virtual std::uint64_t num_skipped() const = 0;
    virtual std::uint64_t num_dropped() const = 0;
    virtual void set_max_queue(int max_queue) = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_H */
