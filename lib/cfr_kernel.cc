/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <algorithm>
#include <cmath>
#include <gnuradio/fft/fft.h>
#include <gnuradio/srsaoa/cfr_kernel.h>
#include <limits>
#include <stdexcept>
#include <string>
#include <volk/volk.h>

namespace gr {
namespace srsaoa {

namespace {
void fail(const std::string& what)
{
    throw std::invalid_argument("cfr_kernel: " + what);
}
} // namespace

struct cfr_kernel::fft_state {
    gr::fft::fft_complex_fwd fwd;
    explicit fft_state(int n) : fwd(n) {}
};

cfr_kernel::cfr_kernel(int num_channels,
                       int fft_size,
                       const std::vector<int>& window_offsets,
                       const std::vector<int>& subcarrier_bins,
                       const std::vector<cplx>& sequence,
                       const std::vector<int>& noise_bins,
                       int cp_backoff,
                       double sample_rate,
                       const std::vector<cplx>& calibration)
    : d_m(num_channels), d_n(fft_size), d_offsets(window_offsets),
      d_bins(subcarrier_bins), d_noise(noise_bins), d_backoff(cp_backoff),
      d_fs(sample_rate)
{
    if (num_channels < 1)
        fail("num_channels must be >= 1, got " + std::to_string(num_channels));
    if (fft_size < 16)
        fail("fft_size must be >= 16, got " + std::to_string(fft_size));
    if (d_offsets.empty())
        fail("window_offsets must hold at least one SRS symbol");
    if (d_bins.empty())
        fail("subcarrier_bins must not be empty");
    for (int b : d_bins)
        if (b < 0 || b >= fft_size)
            fail("subcarrier bin " + std::to_string(b) + " outside [0, fft_size)");
    for (int b : d_noise)
        if (b < 0 || b >= fft_size)
            fail("noise bin " + std::to_string(b) + " outside [0, fft_size)");
    if (cp_backoff < 0)
        fail("cp_backoff must be >= 0, got " + std::to_string(cp_backoff));
    for (std::size_t s = 0; s < d_offsets.size(); s++) {
        if (d_offsets[s] - cp_backoff < 0)
            fail("window " + std::to_string(s) + " starts before the slot start");
        if (s > 0 && d_offsets[s] < d_offsets[s - 1] + fft_size)
            fail("window_offsets must increase by at least fft_size");
    }
    if (!(sample_rate > 0.0) || !std::isfinite(sample_rate))
        fail("sample_rate must be positive");
    const std::size_t ns = d_offsets.size(), nk = d_bins.size();
    if (sequence.size() != ns * nk)
        fail("sequence must hold S*K = " + std::to_string(ns * nk) + " values, got " +
             std::to_string(sequence.size()));
    d_w.resize(ns * nk);
    for (std::size_t s = 0; s < ns; s++) {
        for (std::size_t k = 0; k < nk; k++) {
            const cplx x = sequence[s * nk + k];
            if (!(std::abs(x) > 0.0f) || !std::isfinite(x.real()) ||
                !std::isfinite(x.imag()))
                fail("sequence values must be finite and non-zero");
            const int b = d_bins[k];
            const double f = b < fft_size / 2 ? b : b - fft_size;
            const double ph = 2.0 * M_PI * f * cp_backoff / fft_size;
            d_w[s * nk + k] =
                cplx(static_cast<float>(std::cos(ph)), static_cast<float>(std::sin(ph))) /
                x;
        }
    }
    set_calibration(calibration);
    d_fft = std::make_unique<fft_state>(fft_size);
    // d_w with the FFT's 1/sqrt(N) folded in, and a gather buffer for SRS or noise REs
    const float scale = 1.0f / std::sqrt(static_cast<float>(fft_size));
    d_ws.resize(d_w.size());
    for (std::size_t i = 0; i < d_w.size(); i++)
        d_ws[i] = d_w[i] * scale;
    d_y.resize(std::max(nk, d_noise.size()));
}

cfr_kernel::~cfr_kernel() = default;

int cfr_kernel::span_end() const
{
    return d_offsets.back() - d_backoff + d_n;
}

void cfr_kernel::set_calibration(const std::vector<cplx>& calibration)
{
    const std::size_t m = static_cast<std::size_t>(d_m), nk = d_bins.size();
    for (const auto& c : calibration)
        if (!std::isfinite(c.real()) || !std::isfinite(c.imag()))
            fail("calibration values must be finite");
    if (calibration.empty()) {
        d_cal.clear();
    } else if (calibration.size() == m) {
        d_cal.resize(m * nk);
        for (std::size_t i = 0; i < m; i++)
            std::fill(
                d_cal.begin() + i * nk, d_cal.begin() + (i + 1) * nk, calibration[i]);
    } else if (calibration.size() == m * nk) {
        d_cal = calibration;
    } else {
        fail("calibration must hold 0, M = " + std::to_string(m) +
             " or M*K = " + std::to_string(m * nk) + " values, got " +
             std::to_string(calibration.size()));
    }
}

bool cfr_kernel::estimate(const cplx* const* win,
                          double cfo_hz,
                          cplx* h_out,
                          double& snr_db)
{
    const std::size_t ns = d_offsets.size();
    const std::size_t n = static_cast<std::size_t>(d_n);
    std::vector<const cplx*> sym(static_cast<std::size_t>(d_m) * ns);
    for (int m = 0; m < d_m; m++)
        for (std::size_t s = 0; s < ns; s++)
            sym[static_cast<std::size_t>(m) * ns + s] = win[m] + s * n;
    return estimate_windows(sym.data(), cfo_hz, h_out, snr_db);
}

bool cfr_kernel::estimate_windows(const cplx* const* sym,
                                  double cfo_hz,
                                  cplx* h_out,
                                  double& snr_db)
{
    const std::size_t ns = d_offsets.size(), nk = d_bins.size();
    const std::size_t n = static_cast<std::size_t>(d_n);
    const double scale2 = 1.0 / static_cast<double>(d_n); // FFT scale 1/sqrt(N), squared
    double p_sig = 0.0, p_noise = 0.0;
    for (int m = 0; m < d_m; m++) {
        for (std::size_t s = 0; s < ns; s++) {
            const cplx* y = sym[static_cast<std::size_t>(m) * ns + s];
            cplx* in = d_fft->fwd.get_inbuf();
            if (cfo_hz != 0.0) {
                // exp(-j 2 pi cfo t / fs) from the window's first sample on
                const double w = -2.0 * M_PI * cfo_hz / d_fs;
                const double ph0 = w * window_start(s);
                lv_32fc_t phase = lv_cmake(static_cast<float>(std::cos(ph0)),
                                           static_cast<float>(std::sin(ph0)));
                const lv_32fc_t inc = lv_cmake(static_cast<float>(std::cos(w)),
                                               static_cast<float>(std::sin(w)));
                volk_32fc_s32fc_x2_rotator_32fc(
                    in, y, inc, &phase, static_cast<unsigned int>(n));
            } else {
                std::copy(y, y + n, in);
            }
            d_fft->fwd.execute();
            const cplx* out = d_fft->fwd.get_outbuf();
            cplx* h = h_out + (static_cast<std::size_t>(m) * ns + s) * nk;
            // gather the SRS REs, then vector products: H = Y w (cal), sum |Y|^2
            for (std::size_t k = 0; k < nk; k++)
                d_y[k] = out[d_bins[k]];
            volk_32fc_x2_multiply_32fc(h, d_y.data(), d_ws.data() + s * nk, nk);
            if (!d_cal.empty())
                volk_32fc_x2_multiply_32fc(
                    h, h, d_cal.data() + static_cast<std::size_t>(m) * nk, nk);
            lv_32fc_t e;
            volk_32fc_x2_conjugate_dot_prod_32fc(&e, d_y.data(), d_y.data(), nk);
            p_sig += static_cast<double>(lv_creal(e)) * scale2;
            if (!d_noise.empty()) {
                for (std::size_t i = 0; i < d_noise.size(); i++)
                    d_y[i] = out[d_noise[i]];
                volk_32fc_x2_conjugate_dot_prod_32fc(
                    &e, d_y.data(), d_y.data(), d_noise.size());
                p_noise += static_cast<double>(lv_creal(e)) * scale2;
            }
        }
    }
    // A NaN or Inf anywhere in a window reaches every bin of its FFT, so the power sums
    // over the SRS (and noise) bins tell whether the occasion held non-finite samples.
    if (!std::isfinite(p_sig) || !std::isfinite(p_noise))
        return false;
    const double nre = static_cast<double>(d_m) * ns;
    p_sig /= nre * nk;
    if (d_noise.empty()) {
        snr_db = std::numeric_limits<double>::quiet_NaN();
    } else {
        p_noise /= nre * d_noise.size();
        const double snr = (p_sig - p_noise) / p_noise;
        snr_db = p_noise > 0.0 ? 10.0 * std::log10(std::max(snr, 1e-30))
                               : std::numeric_limits<double>::infinity();
    }
    return true;
}

} // namespace srsaoa
} // namespace gr
