/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define BOOST_TEST_MODULE qa_covariance_kernel
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <gnuradio/srsaoa/covariance_kernel.h>
#include <limits>
#include <random>
#include <stdexcept>

using gr::srsaoa::covariance_kernel;
using cplx = std::complex<float>;

namespace {
std::vector<cplx> random_cfr(std::size_t n, unsigned seed)
{
    std::mt19937 gen(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<cplx> v(n);
    for (auto& x : v)
        x = cplx(g(gen), g(gen));
    return v;
}

// Direct R = (1/N) sum h h^H, written independently of the kernel's loop order.
std::vector<std::complex<double>>
reference(const std::vector<std::vector<cplx>>& occ, std::size_t m, std::size_t n_snap)
{
    std::vector<std::complex<double>> r(m * m, 0.0);
    double count = 0;
    for (const auto& h : occ) {
        for (std::size_t n = 0; n < n_snap; n++) {
            for (std::size_t i = 0; i < m; i++)
                for (std::size_t j = 0; j < m; j++)
                    r[i * m + j] += std::complex<double>(h[i * n_snap + n]) *
                                    std::conj(std::complex<double>(h[j * n_snap + n]));
            count += 1;
        }
    }
    for (auto& x : r)
        x /= count;
    return r;
}
} // namespace

BOOST_AUTO_TEST_CASE(rejects_bad_parameters)
{
    BOOST_CHECK_THROW(covariance_kernel(0, false, 0.0), std::invalid_argument);
    BOOST_CHECK_THROW(covariance_kernel(4, false, 1.0), std::invalid_argument);
    BOOST_CHECK_THROW(covariance_kernel(4, false, -0.1), std::invalid_argument);
    BOOST_CHECK_THROW(covariance_kernel(4, false, std::nan("")), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(block_average_matches_direct_sum)
{
    const std::size_t m = 4, s = 2, k = 17;
    covariance_kernel ker(m, false, 0.0);
    std::vector<std::vector<cplx>> occ;
    for (unsigned i = 0; i < 3; i++) {
        occ.push_back(random_cfr(m * s * k, 10 + i));
        BOOST_REQUIRE(ker.add(occ.back().data(), occ.back().size(), s, k));
    }
    BOOST_CHECK_EQUAL(ker.num_occasions(), 3u);
    BOOST_CHECK_CLOSE(ker.num_snapshots(), 3.0 * s * k, 1e-12);
    auto r = ker.read_out();
    auto ref = reference(occ, m, s * k);
    for (std::size_t i = 0; i < m * m; i++) {
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(r[i]) - ref[i]), 1e-5);
    }
    // Hermitian with a real diagonal.
    for (std::size_t i = 0; i < m; i++) {
        BOOST_CHECK_EQUAL(r[i * m + i].imag(), 0.0f);
        for (std::size_t j = 0; j < m; j++)
            BOOST_CHECK(r[i * m + j] == std::conj(r[j * m + i]));
    }
    // Block mode restarts after read-out.
    BOOST_CHECK_EQUAL(ker.num_occasions(), 0u);
    BOOST_CHECK_EQUAL(ker.num_snapshots(), 0.0);
}

BOOST_AUTO_TEST_CASE(forward_backward_is_persymmetric)
{
    const std::size_t m = 5, s = 1, k = 9;
    covariance_kernel ker(m, true, 0.0);
    auto h = random_cfr(m * s * k, 3);
    BOOST_REQUIRE(ker.add(h.data(), h.size(), s, k));
    auto r = ker.read_out();
    auto ref = reference({ h }, m, s * k);
    for (std::size_t i = 0; i < m; i++) {
        for (std::size_t j = 0; j < m; j++) {
            auto expect =
                0.5 * (ref[i * m + j] + std::conj(ref[(m - 1 - i) * m + (m - 1 - j)]));
            BOOST_CHECK_SMALL(std::abs(std::complex<double>(r[i * m + j]) - expect),
                              1e-5);
            // J R* J = R
            BOOST_CHECK_SMALL(
                std::abs(r[i * m + j] - std::conj(r[(m - 1 - i) * m + (m - 1 - j)])),
                1e-6f);
        }
    }
}

BOOST_AUTO_TEST_CASE(exponential_forgetting_weights)
{
    const std::size_t m = 2, s = 1, k = 4;
    const double lam = 0.5;
    covariance_kernel ker(m, false, lam);
    auto a = random_cfr(m * s * k, 1);
    auto b = random_cfr(m * s * k, 2);
    BOOST_REQUIRE(ker.add(a.data(), a.size(), s, k));
    BOOST_REQUIRE(ker.add(b.data(), b.size(), s, k));
    auto ra = reference({ a }, m, s * k);
    auto rb = reference({ b }, m, s * k);
    auto r = ker.read_out();
    // (lam * 4 Ra + 4 Rb) / (lam * 4 + 4)
    for (std::size_t i = 0; i < m * m; i++) {
        auto expect = (lam * ra[i] + rb[i]) / (lam + 1.0);
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(r[i]) - expect), 1e-5);
    }
    BOOST_CHECK_CLOSE(ker.num_snapshots(), lam * 4 + 4, 1e-12); // not restarted
}

BOOST_AUTO_TEST_CASE(rejects_non_finite_and_wrong_sizes)
{
    const std::size_t m = 3, s = 1, k = 4;
    covariance_kernel ker(m, false, 0.0);
    auto h = random_cfr(m * s * k, 7);
    BOOST_CHECK(!ker.add(h.data(), h.size() - 1, s, k));
    BOOST_CHECK(!ker.add(h.data(), h.size(), 0, k));
    h[5] = cplx(std::numeric_limits<float>::quiet_NaN(), 0.0f);
    BOOST_CHECK(!ker.add(h.data(), h.size(), s, k));
    h[5] = cplx(0.0f, std::numeric_limits<float>::infinity());
    BOOST_CHECK(!ker.add(h.data(), h.size(), s, k));
    BOOST_CHECK_EQUAL(ker.num_occasions(), 0u);
}
