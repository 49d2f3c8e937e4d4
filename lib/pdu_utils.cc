/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "pdu_utils.h"

namespace gr {
namespace srsaoa {

std::vector<std::int64_t> to_int_list(const pmt::pmt_t& v, const std::string& what)
{
    std::vector<std::int64_t> out;
    if (pmt::is_s32vector(v)) {
        for (auto x : pmt::s32vector_elements(v))
            out.push_back(x);
    } else if (pmt::is_s64vector(v)) {
        for (auto x : pmt::s64vector_elements(v))
            out.push_back(x);
    } else if (pmt::is_u32vector(v)) {
        for (auto x : pmt::u32vector_elements(v))
            out.push_back(x);
    } else if (pmt::is_u64vector(v)) {
        for (auto x : pmt::u64vector_elements(v))
            out.push_back(static_cast<std::int64_t>(x));
    } else if (pmt::is_tuple(v)) {
        for (std::size_t i = 0; i < pmt::length(v); i++) {
            auto e = pmt::tuple_ref(v, i);
            if (!pmt::is_integer(e))
                throw pdu_error(what + " holds a non-integer element");
            out.push_back(pmt::to_long(e));
        }
    } else if (pmt::is_pair(v) || pmt::is_null(v)) {
        pmt::pmt_t it = v;
        while (pmt::is_pair(it)) {
            auto e = pmt::car(it);
            if (!pmt::is_integer(e))
                throw pdu_error(what + " holds a non-integer element");
            out.push_back(pmt::to_long(e));
            it = pmt::cdr(it);
        }
    } else {
        throw pdu_error(what + " is not an integer vector, tuple or list");
    }
    return out;
}

void split_c32_pdu(const pmt::pmt_t& msg,
                   pmt::pmt_t& meta,
                   const gr_complex*& data,
                   std::size_t& n)
{
    if (!pmt::is_pair(msg))
        throw pdu_error("message is not a PDU (meta . vector) pair");
    meta = pmt::car(msg);
    pmt::pmt_t vec = pmt::cdr(msg);
    if (!pmt::is_dict(meta))
        throw pdu_error("PDU meta is not a dict");
    if (!pmt::is_c32vector(vec))
        throw pdu_error("PDU vector is not c32");
    data = pmt::c32vector_elements(vec, n);
}

} // namespace srsaoa
} // namespace gr
