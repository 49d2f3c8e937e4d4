/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_H
#define INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_H

#include <cstdint>
#include <gnuradio/block.h>
#include <gnuradio/srsaoa/api.h>

namespace gr {
namespace srsaoa {

/*!
 * \brief Spatial covariance matrix from CFR PDUs.
 * \ingroup srsaoa
 *
 * \details
 * Input port \p cfr takes CFR PDUs (DESIGN section 6): meta dict with \p shape = [M, S,
 * K] and a c32 vector H[m][s][k]. Every column H[:, s, k] is one spatial snapshot; the
 * block forms R = (1/N) sum h h^H over the SRS subcarriers, symbols and occasions and
 * publishes a covariance PDU on \p covariance every \p n_occasions occasions: the last
 * CFR's meta plus \p num_snapshots (N, a double), \p occasions (occasions behind R) and
 * \p forward_backward, with \p shape replaced by [M, M], and R as an M*M c32 vector,
 * row-major.
 *
 * With \p forgetting = 0 each output averages the \p n_occasions occasions since the
 * previous one. With 0 < \p forgetting < 1 the sums decay by that factor per occasion
 * (exponentially weighted average, never restarted), for a moving UE.
 * \p forward_backward returns (R + J R* J)/2.
 *
 * A PDU with a malformed meta (no or wrong \p shape, M different from
 * \p num_channels, vector length not M*S*K) is dropped with an error in the log. A CFR
 * holding a NaN or Inf is dropped; one warning is logged per burst of such PDUs. A
 * message on \p reset (any content) clears the sums.
 *
 * Every CFR that gives no covariance PDU (accumulated towards the next one, malformed or
 * non-finite) is announced on \p skipped (meta \p sample_index, \p srs_occasion,
 * \p skipped), for the branch's result_sink to acknowledge (docs/performance.md).
 * set_max_queue(n) with n > 0 bounds the input queue for a live radio: the oldest CFRs
 * are dropped when n are waiting (num_dropped(), meta \p dropped of the output).
 */
class SRSAOA_API covariance_accumulator : virtual public gr::block
{
public:
    typedef std::shared_ptr<covariance_accumulator> sptr;

    /*!
     * \param num_channels M, number of receive channels, one per array element (>= 1).
     * \param n_occasions emit one covariance PDU every this many occasions (>= 1).
     * \param forward_backward apply forward-backward averaging.
     * \param forgetting 0 for block averaging, or the per-occasion decay in (0, 1).
     */
    static sptr
    make(int num_channels, int n_occasions, bool forward_backward, double forgetting);

    /*! Bound the input queue (0 = unbounded, the default). */
    virtual void set_max_queue(int max_queue) = 0;
    /*! CFRs dropped by the queue bound. */
    virtual std::uint64_t num_dropped() const = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_H */
