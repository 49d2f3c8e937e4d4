/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define BOOST_TEST_MODULE qa_cfr_kernel
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <gnuradio/srsaoa/cfr_kernel.h>
#include <stdexcept>

using gr::srsaoa::cfr_kernel;
using cplx = std::complex<float>;

namespace {
const int N = 64;
const std::vector<int> OFFSETS{ 100, 180 };
const std::vector<int> BINS{ 2, 4, 60, 62 };
const std::vector<cplx> SEQ{ { 1, 0 },       { 0, 1 }, { -1, 0 }, { 0, -1 },
                             { 0.6f, 0.8f }, { 1, 0 }, { 0, 1 },  { -0.8f, 0.6f } };

// One symbol's FFT window: sum_k h_k X_k exp(j 2 pi b_k (n - beta) / N) / sqrt(N), i.e.
// the cyclic symbol read beta samples early.
std::vector<cplx> window(const std::vector<cplx>& h, std::size_t s, int beta)
{
    std::vector<cplx> y(N, cplx(0.0f, 0.0f));
    for (int n = 0; n < N; n++) {
        std::complex<double> v = 0.0;
        for (std::size_t k = 0; k < BINS.size(); k++) {
            const double ph = 2.0 * M_PI * BINS[k] * (n - beta) / N;
            v += std::complex<double>(h[k]) * std::complex<double>(SEQ[s * 4 + k]) *
                 std::polar(1.0, ph);
        }
        y[n] = cplx(v / std::sqrt(double(N)));
    }
    return y;
}
} // namespace

BOOST_AUTO_TEST_CASE(rejects_bad_parameters)
{
    BOOST_CHECK_THROW(cfr_kernel(0, N, OFFSETS, BINS, SEQ, {}, 0, 1e6, {}),
                      std::invalid_argument);
    BOOST_CHECK_THROW(cfr_kernel(1, N, OFFSETS, { N }, SEQ, {}, 0, 1e6, {}),
                      std::invalid_argument);
    BOOST_CHECK_THROW(cfr_kernel(1, N, { 100, 120 }, BINS, SEQ, {}, 0, 1e6, {}),
                      std::invalid_argument);
    BOOST_CHECK_THROW(cfr_kernel(1, N, OFFSETS, BINS, { SEQ[0] }, {}, 0, 1e6, {}),
                      std::invalid_argument);
    BOOST_CHECK_THROW(cfr_kernel(1, N, OFFSETS, BINS, SEQ, {}, -1, 1e6, {}),
                      std::invalid_argument);
    BOOST_CHECK_THROW(cfr_kernel(2, N, OFFSETS, BINS, SEQ, {}, 0, 1e6, { { 1, 0 } }),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(least_squares_with_backoff_and_calibration)
{
    const std::vector<cplx> h0{ { 1, 0 }, { 0.5f, 0.5f }, { 0, -2 }, { 0.3f, 0 } };
    const std::vector<cplx> h1{ { 0, 1 }, { 1, 1 }, { 2, 0 }, { -0.3f, 0.1f } };
    for (int beta : { 0, 5 }) {
        // calibration: channel 1 multiplied by 2j
        cfr_kernel k(
            2, N, OFFSETS, BINS, SEQ, { 10, 20 }, beta, 1e6, { { 1, 0 }, { 0, 2 } });
        std::vector<cplx> w0, w1;
        for (std::size_t s = 0; s < 2; s++) {
            auto a = window(h0, s, beta), b = window(h1, s, beta);
            w0.insert(w0.end(), a.begin(), a.end());
            w1.insert(w1.end(), b.begin(), b.end());
        }
        const cplx* win[2] = { w0.data(), w1.data() };
        std::vector<cplx> h(2 * 2 * 4);
        double snr = 0.0;
        BOOST_REQUIRE(k.estimate(win, 0.0, h.data(), snr));
        for (std::size_t s = 0; s < 2; s++) {
            for (std::size_t i = 0; i < 4; i++) {
                BOOST_CHECK_SMALL(std::abs(h[(0 * 2 + s) * 4 + i] - h0[i]), 1e-4f);
                BOOST_CHECK_SMALL(std::abs(h[(1 * 2 + s) * 4 + i] - h1[i] * cplx(0, 2)),
                                  1e-4f);
            }
        }
        BOOST_CHECK_GT(snr, 60.0); // nothing in the noise bins
        w0[3] = cplx(NAN, 0.0f);
        BOOST_CHECK(!k.estimate(win, 0.0, h.data(), snr));
    }
}
