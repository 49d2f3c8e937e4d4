/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H
#define INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H

#include "queue_bound.h"
#include <cstdint>
#include <gnuradio/srsaoa/covariance_accumulator.h>
#include <gnuradio/srsaoa/covariance_kernel.h>

namespace gr {
namespace srsaoa {

class covariance_accumulator_impl : public covariance_accumulator
{
private:
    covariance_kernel d_kernel;
    int d_n_occasions;
    int d_since_output;
    std::uint64_t d_bad_burst; // consecutive dropped non-finite CFRs
    queue_bound d_bound;

    void handle_cfr(const pmt::pmt_t& msg);
    void skip(const pmt::pmt_t& meta, const char* why);
    void handle_reset(const pmt::pmt_t& msg);

public:
    covariance_accumulator_impl(int num_channels,
                                int n_occasions,
                                bool forward_backward,
                                double forgetting);

    void set_max_queue(int max_queue) override;
    std::uint64_t num_dropped() const override
    {
        return d_bound.dropped();
    }
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H */
