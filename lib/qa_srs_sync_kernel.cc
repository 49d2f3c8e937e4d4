/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define BOOST_TEST_MODULE qa_srs_sync_kernel
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <gnuradio/srsaoa/srs_sync_kernel.h>
#include <random>
#include <stdexcept>

using gr::srsaoa::srs_detection;
using gr::srsaoa::srs_sync_kernel;
using cplx = std::complex<float>;

namespace {
const int T = 4000, P = 5000;
const double FS = 1e6;
const std::vector<int> STARTS{ 1000, 1300, 1600, 1900 };
const std::vector<int> LENS{ 300, 300, 300, 300 };

// A random slot: zeros except four 300-sample "SRS symbols" of complex Gaussian samples.
std::vector<cplx> reference()
{
    std::mt19937 gen(1);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<cplx> r(T, cplx(0.0f, 0.0f));
    for (std::size_t s = 0; s < STARTS.size(); s++)
        for (int i = 0; i < LENS[s]; i++)
            r[STARTS[s] + i] = cplx(g(gen), g(gen));
    return r;
}

// Two channels carrying the slot at 517 + i P (i < n_slots), CFO cfo_hz, no noise.
std::vector<std::vector<cplx>> stream(int n_slots, double cfo_hz)
{
    const auto r = reference();
    const int n = 517 + n_slots * P + 3000;
    std::vector<std::vector<cplx>> x(2, std::vector<cplx>(n, cplx(0.0f, 0.0f)));
    for (int i = 0; i < n_slots; i++) {
        for (int j = 0; j < T; j++) {
            const int k = 517 + i * P + j;
            const double ph = 2.0 * M_PI * cfo_hz * k / FS;
            const cplx rot(static_cast<float>(std::cos(ph)),
                           static_cast<float>(std::sin(ph)));
            x[0][k] = r[j] * rot;
            x[1][k] = r[j] * rot * cplx(0.0f, 0.5f);
        }
    }
    return x;
}

std::vector<srs_detection>
run(srs_sync_kernel& k, const std::vector<std::vector<cplx>>& x, std::size_t chunk)
{
    std::vector<srs_detection> out;
    for (std::size_t pos = 0; pos < x[0].size(); pos += chunk) {
        const std::size_t n = std::min(chunk, x[0].size() - pos);
        const cplx* in[2] = { x[0].data() + pos, x[1].data() + pos };
        k.process(in, n);
        for (auto& d : k.take_detections())
            out.push_back(d);
    }
    k.finish();
    for (auto& d : k.take_detections())
        out.push_back(d);
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(rejects_bad_parameters)
{
    const auto r = reference();
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 0, -1, P, 1e-6, 2, 3, FS),
                      std::invalid_argument);
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, 2, P, 1e-6, 2, 3, FS),
                      std::invalid_argument);
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, -1, 100, 1e-6, 2, 3, FS),
                      std::invalid_argument);
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, -1, P, 0.0, 2, 3, FS),
                      std::invalid_argument);
    BOOST_CHECK_THROW(
        srs_sync_kernel(r, { 0, 100 }, { 300, 300 }, 2, -1, P, 1e-6, 2, 3, FS),
        std::invalid_argument);
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 0, FS),
                      std::invalid_argument);
    BOOST_CHECK_THROW(
        srs_sync_kernel(std::vector<cplx>(T), STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS),
        std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(min_metric_floors_both_thresholds)
{
    const auto r = reference();
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, 1.0),
                      std::invalid_argument);
    BOOST_CHECK_THROW(srs_sync_kernel(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, -0.1),
                      std::invalid_argument);
    srs_sync_kernel plain(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS);
    const double floor = 2.0 * plain.acquisition_threshold();
    srs_sync_kernel floored(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, floor);
    BOOST_CHECK_EQUAL(floored.acquisition_threshold(), floor);
    BOOST_CHECK_EQUAL(floored.tracking_threshold(), floor);
    srs_sync_kernel low(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, 1e-9);
    BOOST_CHECK_EQUAL(low.acquisition_threshold(), plain.acquisition_threshold());
}

BOOST_AUTO_TEST_CASE(tail_closed_form)
{
    // a = 1: P(rho > eta) = (1 - eta)^b
    for (double eta : { 0.001, 0.01, 0.2 })
        BOOST_CHECK_CLOSE(srs_sync_kernel::tail_probability(eta, 1, 500),
                          std::pow(1.0 - eta, 500),
                          1e-8);
    const double eta = srs_sync_kernel::threshold_for(1e-9, 8, 2000);
    BOOST_CHECK_CLOSE(srs_sync_kernel::tail_probability(eta, 8, 2000), 1e-9, 1e-4);
}

BOOST_AUTO_TEST_CASE(noiseless_detection_any_chunking)
{
    // 100 Hz: 0.03 cycle over a 300-sample symbol, rho = sinc^2 = 0.997 without noise
    const auto x = stream(6, 100.0);
    std::vector<std::vector<srs_detection>> runs;
    for (std::size_t chunk : { std::size_t(100000), std::size_t(1), std::size_t(777) }) {
        srs_sync_kernel k(reference(), STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS);
        runs.push_back(run(k, x, chunk));
        BOOST_CHECK_EQUAL(k.state(), 2);
    }
    BOOST_REQUIRE_EQUAL(runs[0].size(), 6u);
    for (int i = 0; i < 6; i++) {
        const auto& d = runs[0][i];
        BOOST_CHECK_EQUAL(d.index, 517 + i * P);
        BOOST_CHECK_EQUAL(d.occasion, static_cast<std::uint64_t>(i));
        BOOST_CHECK_GT(d.metric, 0.99);
        BOOST_CHECK_SMALL(d.frac, 0.05);
        // the random symbols' energy centroids differ by a few samples: ~1 % bias
        BOOST_CHECK_SMALL(d.cfo_hz - 100.0, 2.0);
    }
    for (const auto& r : runs) {
        BOOST_REQUIRE_EQUAL(r.size(), runs[0].size());
        for (std::size_t i = 0; i < r.size(); i++) {
            BOOST_CHECK_EQUAL(r[i].index, runs[0][i].index);
            BOOST_CHECK_CLOSE(r[i].metric, runs[0][i].metric, 1e-3);
        }
    }
}

BOOST_AUTO_TEST_CASE(zeros_and_nan_give_nothing)
{
    std::vector<std::vector<cplx>> x(2, std::vector<cplx>(30000, cplx(0.0f, 0.0f)));
    for (int i = 1000; i < 2000; i++)
        x[1][i] = cplx(std::nanf(""), 0.0f);
    srs_sync_kernel k(reference(), STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS);
    BOOST_CHECK(run(k, x, 4096).empty());
    BOOST_CHECK_EQUAL(k.nonfinite_count(), 1000u);
    BOOST_CHECK_EQUAL(k.decided(), 30000);
}

namespace {
// Two channels carrying the slot at the given starts in white noise 20 dB below the
// signal (no CFO), n samples. (Without noise the scale-free metric of a window that just
// touches a slot's edge is not small.)
std::vector<std::vector<cplx>> stream_at(const std::vector<std::int64_t>& starts,
                                         std::size_t n)
{
    const auto r = reference();
    std::mt19937 gen(7);
    std::normal_distribution<float> g(0.0f, 0.1f);
    std::vector<std::vector<cplx>> x(2, std::vector<cplx>(n));
    for (auto& ch : x)
        for (auto& v : ch)
            v = cplx(g(gen), g(gen));
    for (auto s0 : starts)
        for (int j = 0; j < T; j++) {
            x[0][s0 + j] += r[j];
            x[1][s0 + j] += r[j] * cplx(0.0f, -0.7f);
        }
    return x;
}
} // namespace

BOOST_AUTO_TEST_CASE(noise_threshold_and_guard_are_reported)
{
    const auto r = reference();
    srs_sync_kernel plain(r, STARTS, LENS, 2, -1, P, 1e-3, 2, 3, FS);
    BOOST_CHECK_EQUAL(plain.acquisition_threshold(), plain.noise_acquisition_threshold());
    BOOST_CHECK_CLOSE(plain.effective_pfa(), 1e-3, 1e-4);
    BOOST_CHECK_CLOSE(plain.effective_tracking_pfa(), 1e-3, 1e-4);
    srs_sync_kernel guarded(r, STARTS, LENS, 2, -1, P, 1e-3, 2, 3, FS, 0.5);
    BOOST_CHECK_EQUAL(guarded.noise_acquisition_threshold(),
                      plain.noise_acquisition_threshold());
    BOOST_CHECK_EQUAL(guarded.acquisition_threshold(), 0.5);
    BOOST_CHECK_LT(guarded.effective_pfa(), 1e-100);
}

BOOST_AUTO_TEST_CASE(unequal_intervals_follow_the_pattern)
{
    // intervals alternate P - 9, P + 9: more than the +-2 window from a single period
    const std::vector<std::int64_t> pattern{ P - 9, P + 9 };
    std::vector<std::int64_t> starts{ 517 };
    for (int i = 1; i < 12; i++)
        starts.push_back(starts.back() + pattern[(i - 1) % 2]);
    const auto x = stream_at(starts, static_cast<std::size_t>(starts.back() + T + 3000));
    const auto r = reference();
    BOOST_CHECK_THROW(
        srs_sync_kernel(r, STARTS, LENS, 2, -1, 0, 1e-6, 2, 3, FS, 0.0, pattern),
        std::invalid_argument);
    BOOST_CHECK_THROW(
        srs_sync_kernel(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, 0.0, { P, 100 }),
        std::invalid_argument);
    for (std::size_t chunk : { std::size_t(100000), std::size_t(777) }) {
        srs_sync_kernel k(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS, 0.0, pattern);
        const auto d = run(k, x, chunk);
        BOOST_REQUIRE_EQUAL(d.size(), starts.size());
        for (std::size_t i = 0; i < d.size(); i++) {
            BOOST_CHECK_EQUAL(d[i].index, starts[i]);
            BOOST_CHECK_EQUAL(d[i].occasion, i);
        }
        BOOST_CHECK_EQUAL(k.missed(), 0u);
    }
    // one period: misses, but every occasion from the first detection is found or counted
    srs_sync_kernel one(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS);
    const auto d = run(one, x, 100000);
    BOOST_CHECK_LT(d.size(), starts.size());
    BOOST_CHECK_EQUAL(d.size() + one.missed(), starts.size());
}

BOOST_AUTO_TEST_CASE(gap_of_known_length_keeps_the_numbering)
{
    std::vector<std::int64_t> starts;
    for (int i = 0; i < 10; i++)
        starts.push_back(517 + i * P);
    const auto full =
        stream_at(starts, static_cast<std::size_t>(starts.back() + T + 3000));
    // lose 2 P + 1234 samples from inside slot 3's SRS symbols
    const std::int64_t g = starts[3] + STARTS[1], drop = 2 * P + 1234;
    const auto r = reference();
    srs_sync_kernel k(r, STARTS, LENS, 2, -1, P, 1e-6, 2, 3, FS);
    const cplx* a[2] = { full[0].data(), full[1].data() };
    k.process(a, static_cast<std::size_t>(g));
    k.restart_after_gap(drop);
    const cplx* b[2] = { full[0].data() + g + drop, full[1].data() + g + drop };
    k.process(b, full[0].size() - static_cast<std::size_t>(g + drop));
    k.finish();
    const auto d = k.take_detections();
    // 0-2 before the gap; 3 straddles it, 4 and 5 lie in it; 6-9 after (6 starts 2466
    // samples after the restart, more than the SRS span of 1200)
    std::vector<std::uint64_t> occ;
    for (const auto& x : d)
        occ.push_back(x.occasion);
    const std::vector<std::uint64_t> want{ 0, 1, 2, 6, 7, 8, 9 };
    BOOST_CHECK_EQUAL_COLLECTIONS(occ.begin(), occ.end(), want.begin(), want.end());
    BOOST_REQUIRE_EQUAL(d.size(), 7u);
    BOOST_CHECK_EQUAL(d[3].index, starts[6] - drop);
    BOOST_CHECK_EQUAL(k.missed(), 3u);
    BOOST_CHECK_EQUAL(k.restarts(), 1u);
}
