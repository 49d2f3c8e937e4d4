/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define BOOST_TEST_MODULE qa_recording_reader
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gnuradio/srsaoa/recording_reader.h>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

using gr::srsaoa::recording_reader;
using cplx = std::complex<float>;

namespace {
std::string temp_path(const std::string& name)
{
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/qa_recording_reader_" +
           std::to_string(::getpid()) + "_" + name;
}

template <typename T> void write_file(const std::string& path, const std::vector<T>& v)
{
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(T)));
}

// M channels x N samples of ci16 I/Q, channel c sample i = (c * 1000 + i, -i)
std::vector<std::int16_t> ci16_channel(int c, int n)
{
    std::vector<std::int16_t> v(2 * static_cast<std::size_t>(n));
    for (int i = 0; i < n; i++) {
        v[2 * i] = static_cast<std::int16_t>(c * 1000 + i);
        v[2 * i + 1] = static_cast<std::int16_t>(-i);
    }
    return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(ci16_per_channel_and_interleaved_agree)
{
    const int m = 3, n = 500;
    const double scale = 128.0;
    std::vector<std::string> files;
    std::vector<std::int16_t> inter(2 * static_cast<std::size_t>(m * n));
    for (int c = 0; c < m; c++) {
        auto v = ci16_channel(c, n);
        files.push_back(temp_path("ch" + std::to_string(c)));
        write_file(files.back(), v);
        for (int i = 0; i < n; i++) {
            inter[2 * (i * m + c)] = v[2 * i];
            inter[2 * (i * m + c) + 1] = v[2 * i + 1];
        }
    }
    const std::string ipath = temp_path("inter");
    write_file(ipath, inter);

    recording_reader a(files, m, "ci16_le", scale, 0);
    recording_reader b({ ipath }, m, "ci16_le", scale, 0);
    BOOST_CHECK_EQUAL(a.num_samples(), static_cast<std::uint64_t>(n));
    BOOST_CHECK_EQUAL(b.num_samples(), static_cast<std::uint64_t>(n));
    BOOST_CHECK(b.interleaved());
    std::vector<std::vector<cplx>> ya(m, std::vector<cplx>(200)), yb = ya;
    std::vector<cplx*> pa, pb;
    for (int c = 0; c < m; c++) {
        pa.push_back(ya[c].data());
        pb.push_back(yb[c].data());
    }
    // the last read is short: 450..500
    for (std::uint64_t start : { 0u, 137u, 450u }) {
        const std::size_t got_a = a.read(start, 200, pa.data());
        const std::size_t got_b = b.read(start, 200, pb.data());
        BOOST_CHECK_EQUAL(got_a, std::min<std::size_t>(200, n - start));
        BOOST_CHECK_EQUAL(got_a, got_b);
        for (int c = 0; c < m; c++)
            for (std::size_t i = 0; i < got_a; i++) {
                const double want_re = (c * 1000.0 + (start + i)) / scale;
                const double want_im = -static_cast<double>(start + i) / scale;
                BOOST_CHECK_CLOSE(ya[c][i].real() + 1e-3, want_re + 1e-3, 1e-4);
                BOOST_CHECK_CLOSE(ya[c][i].imag() - 1e-3, want_im - 1e-3, 1e-4);
                BOOST_CHECK_CLOSE(yb[c][i].real() + 1e-3, want_re + 1e-3, 1e-4);
                BOOST_CHECK_CLOSE(yb[c][i].imag() - 1e-3, want_im - 1e-3, 1e-4);
            }
    }
    BOOST_CHECK_EQUAL(a.read(n, 10, pa.data()), 0u);
    for (const auto& f : files)
        std::remove(f.c_str());
    std::remove(ipath.c_str());
}

BOOST_AUTO_TEST_CASE(cf32_nonfinite_counted_per_time_sample)
{
    const int m = 2, n = 1000;
    std::mt19937 gen(3);
    std::normal_distribution<float> g;
    std::vector<std::vector<cplx>> x(m, std::vector<cplx>(n));
    for (auto& row : x)
        for (auto& v : row)
            v = cplx(g(gen), g(gen));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    x[1][300] = cplx(nan, 0.0f);
    x[0][300] = cplx(0.0f, inf); // same time sample: counted once
    x[0][701] = cplx(-inf, 1.0f);
    std::vector<std::string> files;
    for (int c = 0; c < m; c++) {
        files.push_back(temp_path("f" + std::to_string(c)));
        write_file(files.back(), x[c]);
    }
    recording_reader r(files, m, "cf32_le", 1.0, 0);
    std::vector<std::vector<cplx>> y(m, std::vector<cplx>(256));
    std::vector<cplx*> p{ y[0].data(), y[1].data() };
    for (std::uint64_t s = 0; s < static_cast<std::uint64_t>(n); s += 256) {
        const std::size_t k = r.read(s, 256, p.data());
        r.count_nonfinite(s, k, p.data());
        for (int c = 0; c < m; c++)
            for (std::size_t i = 0; i < k; i++) {
                const cplx want = x[c][s + i];
                const bool same = (want == y[c][i]) ||
                                  (std::isnan(want.real()) && std::isnan(y[c][i].real()));
                BOOST_CHECK(same);
            }
    }
    BOOST_CHECK_EQUAL(r.num_nonfinite(), 2u);
    BOOST_CHECK_EQUAL(r.first_nonfinite(), 300);
    for (const auto& f : files)
        std::remove(f.c_str());
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_files)
{
    const std::string p = temp_path("short");
    write_file(p, std::vector<std::int16_t>(10)); // 5 ci16 samples, or 2.5 cf32
    BOOST_CHECK_THROW(recording_reader({ p }, 0, "ci16_le", 1.0, 0),
                      std::invalid_argument);
    BOOST_CHECK_THROW(recording_reader({ p }, 1, "cu8", 1.0, 0), std::invalid_argument);
    BOOST_CHECK_THROW(recording_reader({ p }, 1, "ci16_le", 0.0, 0),
                      std::invalid_argument);
    BOOST_CHECK_THROW(recording_reader({ p, p }, 3, "ci16_le", 1.0, 0),
                      std::invalid_argument);
    BOOST_CHECK_THROW(recording_reader({ p }, 1, "ci16_le", 1.0, 6), std::runtime_error);
    BOOST_CHECK_THROW(recording_reader({ p + "_missing" }, 1, "ci16_le", 1.0, 0),
                      std::runtime_error);
    recording_reader r({ p }, 1, "cf32_le", 1.0, 0);
    BOOST_CHECK_EQUAL(r.num_samples(), 2u); // whole samples only
    std::remove(p.c_str());
}
