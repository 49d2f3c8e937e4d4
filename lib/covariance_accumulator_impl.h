/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H
#define INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H

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

    void handle_cfr(const pmt::pmt_t& msg);
    void handle_reset(const pmt::pmt_t& msg);

public:
    covariance_accumulator_impl(int num_elements,
                                int n_occasions,
                                bool forward_backward,
                                double forgetting);
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_COVARIANCE_ACCUMULATOR_IMPL_H */
