/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/srsaoa/constants.h>

namespace gr {
namespace srsaoa {

#define SRSAOA_SYMBOL(ns, name)                                                          \
    const pmt::pmt_t& ns::name()                                                         \
    {                                                                                    \
        static const pmt::pmt_t sym = pmt::string_to_symbol(#name);                      \
        return sym;                                                                      \
    }

SRSAOA_SYMBOL(keys, srs_occasion)
SRSAOA_SYMBOL(keys, sample_index)
SRSAOA_SYMBOL(keys, rx_time)
SRSAOA_SYMBOL(keys, shape)
SRSAOA_SYMBOL(keys, subcarriers)
SRSAOA_SYMBOL(keys, scs_hz)
SRSAOA_SYMBOL(keys, snr_db)
SRSAOA_SYMBOL(keys, cfo_hz)
SRSAOA_SYMBOL(keys, num_snapshots)
SRSAOA_SYMBOL(keys, occasions)
SRSAOA_SYMBOL(keys, forward_backward)
SRSAOA_SYMBOL(keys, fractional_offset)
SRSAOA_SYMBOL(keys, method)
SRSAOA_SYMBOL(keys, order)
SRSAOA_SYMBOL(keys, aoa_deg)
SRSAOA_SYMBOL(keys, power)
SRSAOA_SYMBOL(keys, crb_deg)
SRSAOA_SYMBOL(keys, dropped)
SRSAOA_SYMBOL(keys, skipped)
SRSAOA_SYMBOL(keys, consumer)
SRSAOA_SYMBOL(tags, srs_start)
SRSAOA_SYMBOL(tags, occasion)
SRSAOA_SYMBOL(tags, metric)
SRSAOA_SYMBOL(tags, rx_rate)
SRSAOA_SYMBOL(tags, rx_freq)
SRSAOA_SYMBOL(ports, cfr)
SRSAOA_SYMBOL(ports, covariance)
SRSAOA_SYMBOL(ports, reset)
SRSAOA_SYMBOL(ports, estimate)
SRSAOA_SYMBOL(ports, skipped)
SRSAOA_SYMBOL(ports, ack)

#undef SRSAOA_SYMBOL

} // namespace srsaoa
} // namespace gr
