/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_PDU_UTILS_H
#define INCLUDED_SRSAOA_PDU_UTILS_H

#include <cstdint>
#include <gnuradio/gr_complex.h>
#include <pmt/pmt.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace srsaoa {

/*! Thrown for a PDU that does not follow DESIGN section 6; the message says why. */
struct pdu_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/*!
 * \brief Read an integer list from a PDU meta value: any integer uniform vector,
 * a tuple or a list of integers. Throws pdu_error otherwise.
 */
std::vector<std::int64_t> to_int_list(const pmt::pmt_t& v, const std::string& what);

/*! Split a PDU into meta dict and c32 vector; throws pdu_error if it is not one. */
void split_c32_pdu(const pmt::pmt_t& msg,
                   pmt::pmt_t& meta,
                   const gr_complex*& data,
                   std::size_t& n);

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_PDU_UTILS_H */
