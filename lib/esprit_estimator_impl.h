/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_IMPL_H
#define INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_IMPL_H

#include "queue_bound.h"
#include <atomic>
#include <gnuradio/srsaoa/esprit_estimator.h>
#include <gnuradio/srsaoa/esprit_kernel.h>

namespace gr {
namespace srsaoa {

class esprit_estimator_impl : public esprit_estimator
{
private:
    esprit_kernel d_kernel;
    int d_order;
    bool d_mdl;
    int d_max_order;
    queue_bound d_bound;
    std::atomic<std::uint64_t> d_estimates{ 0 }, d_skipped{ 0 };

    void handle(const pmt::pmt_t& msg);
    void skip(const pmt::pmt_t& meta, const std::string& why);

public:
    esprit_estimator_impl(double spacing_wavelengths,
                          int order,
                          const std::string& order_method,
                          int max_order,
                          bool tls,
                          double fov_min_deg,
                          double fov_max_deg,
                          int max_queue);

    std::uint64_t num_estimates() const override
    {
        return d_estimates.load();
    }
    std::uint64_t num_skipped() const override
    {
        return d_skipped.load();
    }
    std::uint64_t num_dropped() const override
    {
        return d_bound.dropped();
    }
    void set_max_queue(int max_queue) override;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_ESPRIT_ESTIMATOR_IMPL_H */
