/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_CONSTANTS_H
#define INCLUDED_SRSAOA_CONSTANTS_H

#include <gnuradio/srsaoa/api.h>
#include <pmt/pmt.h>

namespace gr {
namespace srsaoa {

/*!
 * \brief PDU metadata keys and message port names shared by all blocks.
 *
 * The same names are defined in python/srsaoa/constants.py; a test checks that both
 * lists agree. See DESIGN section 6 for what each key carries.
 */
namespace keys {
SRSAOA_API const pmt::pmt_t& srs_occasion();
SRSAOA_API const pmt::pmt_t& sample_index();
SRSAOA_API const pmt::pmt_t& rx_time();
SRSAOA_API const pmt::pmt_t& shape();
SRSAOA_API const pmt::pmt_t& subcarriers();
SRSAOA_API const pmt::pmt_t& scs_hz();
SRSAOA_API const pmt::pmt_t& snr_db();
SRSAOA_API const pmt::pmt_t& cfo_hz();
SRSAOA_API const pmt::pmt_t& num_snapshots();
SRSAOA_API const pmt::pmt_t& occasions();
SRSAOA_API const pmt::pmt_t& forward_backward();
SRSAOA_API const pmt::pmt_t& fractional_offset();
SRSAOA_API const pmt::pmt_t& method();
SRSAOA_API const pmt::pmt_t& order();
SRSAOA_API const pmt::pmt_t& aoa_deg();
SRSAOA_API const pmt::pmt_t& power();
SRSAOA_API const pmt::pmt_t& crb_deg();
SRSAOA_API const pmt::pmt_t& dropped();
SRSAOA_API const pmt::pmt_t& skipped();
SRSAOA_API const pmt::pmt_t& consumer();
} // namespace keys

/*! Stream tag keys (DESIGN section 6) and the UHD tags that are read. */
namespace tags {
SRSAOA_API const pmt::pmt_t& srs_start();
SRSAOA_API const pmt::pmt_t& occasion();
SRSAOA_API const pmt::pmt_t& metric();
SRSAOA_API const pmt::pmt_t& rx_rate();
SRSAOA_API const pmt::pmt_t& rx_freq();
} // namespace tags

namespace ports {
SRSAOA_API const pmt::pmt_t& cfr();
SRSAOA_API const pmt::pmt_t& covariance();
SRSAOA_API const pmt::pmt_t& reset();
SRSAOA_API const pmt::pmt_t& estimate();
SRSAOA_API const pmt::pmt_t& skipped();
SRSAOA_API const pmt::pmt_t& ack();
} // namespace ports

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_CONSTANTS_H */
