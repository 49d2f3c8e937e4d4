/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_TAG_UTILS_H
#define INCLUDED_SRSAOA_TAG_UTILS_H

#include <cmath>
#include <cstdint>
#include <pmt/pmt.h>

namespace gr {
namespace srsaoa {

/*!
 * \brief UHD's stream tags as the front-end blocks read them (srs_sync_core,
 * cfr_extractor_core): one parser, one notion of a time discontinuity.
 */
namespace tag_utils {

/*! A real number (integer or double, not complex) as double; false otherwise. */
inline bool real_value(const pmt::pmt_t& v, double& out)
{
    if (!pmt::is_number(v) || pmt::is_complex(v))
        return false;
    out = pmt::to_double(v);
    return true;
}

/*! A non-negative integer (uint64, or a long >= 0); false otherwise (a negative long, a
 * double, anything else), where pmt::to_uint64 would throw. */
inline bool count_value(const pmt::pmt_t& v, std::uint64_t& out)
{
    if (pmt::is_uint64(v)) {
        out = pmt::to_uint64(v);
        return true;
    }
    if (pmt::is_integer(v) && pmt::to_long(v) >= 0) {
        out = static_cast<std::uint64_t>(pmt::to_long(v));
        return true;
    }
    return false;
}

/*! UHD's rx_time value: a 2-tuple (full seconds, fractional seconds). False if the
 * value is anything else (the tag is then ignored). */
inline bool parse_rx_time(const pmt::pmt_t& v, std::uint64_t& full, double& frac)
{
    if (!pmt::is_tuple(v) || pmt::length(v) != 2)
        return false;
    const pmt::pmt_t f = pmt::tuple_ref(v, 0);
    const pmt::pmt_t r = pmt::tuple_ref(v, 1);
    // full seconds: a non-negative integer (uint64 as UHD tags it, or a long); fraction:
    // a real number. Anything else (a double, a negative or complex value) is not an
    // rx_time.
    double fr = 0.0;
    std::uint64_t fu = 0;
    if (!count_value(f, fu) || !real_value(r, fr) || !std::isfinite(fr))
        return false;
    full = fu;
    frac = fr;
    return true;
}

/*! rx_rate (a number, samples per second): false if not a finite number. */
inline bool parse_rx_rate(const pmt::pmt_t& v, double& rate)
{
    return real_value(v, rate) && std::isfinite(rate);
}

/*! Does a tagged rate match the configured one (within 1 ppm)? */
inline bool rate_matches(double rate, double sample_rate)
{
    return std::abs(rate - sample_rate) <= 1e-6 * sample_rate;
}

/*!
 * \brief Follows the rx_time tags of a stream: the time of any later sample, and the
 * size of a discontinuity (samples that never arrived, UHD overflow or a recording's
 * capture gap).
 */
class rx_time_tracker
{
public:
    explicit rx_time_tracker(double sample_rate) : d_fs(sample_rate) {}

    bool known() const
    {
        return d_known;
    }

    /*!
     * Take an rx_time tag at stream sample \p offset. Returns false for a value that is
     * not UHD's tuple (ignored). \p jump_samples is set to the disagreement with the
     * previous tag, in samples (time elapsed minus samples elapsed; positive: samples are
     * missing), 0 for the first tag.
     */
    bool update(std::uint64_t offset, const pmt::pmt_t& value, double& jump_samples)
    {
        std::uint64_t full;
        double frac;
        if (!parse_rx_time(value, full, frac))
            return false;
        jump_samples = 0.0;
        if (d_known) {
            // full and fractional seconds apart: a double holding both loses ~0.2 us at
            // 1e9 s
            const double elapsed =
                static_cast<double>(static_cast<std::int64_t>(full - d_full)) +
                (frac - d_frac);
            const double expect =
                static_cast<double>(static_cast<std::int64_t>(offset - d_offset)) / d_fs;
            jump_samples = (elapsed - expect) * d_fs;
        }
        d_known = true;
        d_offset = offset;
        d_full = full;
        d_frac = frac;
        return true;
    }

    /*! Time of stream sample \p offset from the last tag (known() must be true). */
    void time_at(std::uint64_t offset, std::uint64_t& full, double& frac) const
    {
        const double dt =
            (static_cast<double>(offset) - static_cast<double>(d_offset)) / d_fs;
        const double total = d_frac + dt;
        const double whole = std::floor(total);
        full = d_full + static_cast<std::uint64_t>(static_cast<std::int64_t>(whole));
        frac = total - whole;
    }

private:
    double d_fs;
    bool d_known = false;
    std::uint64_t d_offset = 0;
    std::uint64_t d_full = 0;
    double d_frac = 0.0;
};

/*! A time discontinuity worth a resynchronisation: more than half a sample. */
inline bool is_discontinuity(double jump_samples)
{
    return std::abs(jump_samples) > 0.5;
}

} // namespace tag_utils
} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_TAG_UTILS_H */
