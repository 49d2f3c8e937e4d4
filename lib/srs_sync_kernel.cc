/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gnuradio/fft/fft.h>
#include <gnuradio/srsaoa/srs_sync_kernel.h>
#include <limits>
#include <stdexcept>
#include <string>
#include <volk/volk.h>

namespace gr {
namespace srsaoa {

namespace {
const double nan_value = std::numeric_limits<double>::quiet_NaN();

void fail(const std::string& what)
{
    throw std::invalid_argument("srs_sync_kernel: " + what);
}

std::complex<float>
dot_conj(const std::complex<float>* x, const std::complex<float>* r, std::size_t n)
{
    lv_32fc_t res;
    volk_32fc_x2_conjugate_dot_prod_32fc(&res, x, r, static_cast<unsigned int>(n));
    return std::complex<float>(lv_creal(res), lv_cimag(res));
}
} // namespace

struct srs_sync_kernel::fft_state {
    int nf;
    int bout;
    gr::fft::fft_complex_fwd fwd;
    gr::fft::fft_complex_rev rev;
    std::vector<std::vector<cplx>> g; // conj(FFT(placed r_s)) / nf, per segment
    std::vector<cplx> x;              // spectrum of the current window
    explicit fft_state(int n) : nf(n), bout(0), fwd(n), rev(n) {}
};

srs_sync_kernel::srs_sync_kernel(const std::vector<cplx>& reference,
                                 const std::vector<int>& segment_starts,
                                 const std::vector<int>& segment_lengths,
                                 int num_channels,
                                 int ref_channel,
                                 std::int64_t period,
                                 double pfa,
                                 int track_window,
                                 int max_misses,
                                 double sample_rate,
                                 double min_metric,
                                 const std::vector<std::int64_t>& period_pattern)
    : d_ref(reference), d_a(segment_starts), d_l(segment_lengths), d_m(num_channels),
      d_ref_channel(ref_channel), d_period(period), d_pfa(pfa), d_w(track_window),
      d_max_misses(max_misses), d_fs(sample_rate), d_min_metric(min_metric), d_hyp(1),
      d_base(0), d_fed(0), d_mbase(0), d_mend(0), d_scan(0), d_state(0), d_pred(0),
      d_pred_hi(0), d_anchor(0), d_steps(1), d_missed(0), d_continuous(false), d_gap(0),
      d_misses(0), d_have_occ(false), d_occasion(0), d_last_index(0), d_enabled(true),
      d_finished(false), d_use_pre(true), d_nonfinite(0), d_restarts(0),
      d_acq_guard(std::numeric_limits<std::int64_t>::min())
{
    const auto t = static_cast<std::int64_t>(d_ref.size());
    if (t < 2)
        fail("reference must hold at least 2 samples");
    if (d_a.empty() || d_a.size() != d_l.size())
        fail("segment_starts and segment_lengths must be non-empty and of equal length");
    for (std::size_t s = 0; s < d_a.size(); s++) {
        if (d_l[s] < 2)
            fail("segment_lengths must be >= 2");
        if (d_a[s] < 0 || static_cast<std::int64_t>(d_a[s]) + d_l[s] > t)
            fail("segment " + std::to_string(s) + " lies outside the reference");
        if (s > 0 && d_a[s] < d_a[s - 1] + d_l[s - 1])
            fail("segments must be increasing and disjoint");
    }
    if (num_channels < 1)
        fail("num_channels must be >= 1, got " + std::to_string(num_channels));
    if (ref_channel < -1 || ref_channel >= num_channels)
        fail("ref_channel must be -1 (all) or in [0, num_channels), got " +
             std::to_string(ref_channel));
    // an occasion's SRS symbols and search window must end before the next one's begin
    // (the intervals may be a little shorter than the reference slot: mu >= 2)
    const std::int64_t min_period =
        static_cast<std::int64_t>(d_a.back() + d_l.back() - d_a.front()) +
        2 * static_cast<std::int64_t>(std::max(track_window, 0)) + 4;
    if (period != 0 && period < min_period)
        fail("period must be 0 (unknown) or >= " + std::to_string(min_period) +
             " samples (the SRS symbols and the search window), got " +
             std::to_string(period));
    if (!(pfa > 0.0 && pfa < 0.5))
        fail("pfa must be in (0, 0.5), got " + std::to_string(pfa));
    if (track_window < 0 || static_cast<std::int64_t>(track_window) * 4 > t)
        fail("track_window must be in [0, slot length / 4], got " +
             std::to_string(track_window));
    if (max_misses < 1)
        fail("max_misses must be >= 1, got " + std::to_string(max_misses));
    if (!(sample_rate > 0.0) || !std::isfinite(sample_rate))
        fail("sample_rate must be positive");
    if (!(min_metric >= 0.0 && min_metric < 1.0))
        fail("min_metric must be in [0, 1)");
    if (!period_pattern.empty()) {
        if (period <= 0)
            fail("a period_pattern needs period > 0");
        if (period_pattern.size() > 4096)
            fail("period_pattern holds more than 4096 intervals");
        for (auto v : period_pattern)
            if (v < min_period)
                fail("every period_pattern interval must be >= " +
                     std::to_string(min_period) + " samples, got " + std::to_string(v));
        d_pattern = period_pattern;
    } else {
        d_pattern.assign(1, period);
    }
    d_phase_ok.assign(d_pattern.size(), 1);
    // the most distinct predicted starts searched at once: k-step sums over all phases
    // (k = 1 .. max_misses); 1 with equal intervals
    if (d_pattern.size() > 1) {
        const std::size_t c = d_pattern.size();
        for (int k = 1; k <= max_misses && k <= static_cast<int>(2 * c); k++) {
            std::vector<std::int64_t> sums;
            for (std::size_t ph = 0; ph < c; ph++) {
                std::int64_t sum = 0;
                for (int i = 0; i < k; i++)
                    sum += d_pattern[(ph + static_cast<std::size_t>(i)) % c];
                sums.push_back(sum);
            }
            std::sort(sums.begin(), sums.end());
            const int distinct =
                static_cast<int>(std::unique(sums.begin(), sums.end()) - sums.begin());
            d_hyp = std::max(d_hyp, distinct);
        }
    }

    const std::size_t ns = d_a.size();
    d_rnorm.resize(ns);
    long total_len = 0;
    for (std::size_t s = 0; s < ns; s++) {
        double e = 0.0;
        for (int i = 0; i < d_l[s]; i++)
            e += std::norm(std::complex<double>(d_ref[d_a[s] + i]));
        if (!(e > 0.0) || !std::isfinite(e))
            fail("segment " + std::to_string(s) +
                 " of the reference is zero or not finite");
        d_rnorm[s] = e;
        total_len += d_l[s];
    }
    if (ref_channel < 0) {
        for (int m = 0; m < num_channels; m++)
            d_chans.push_back(m);
    } else {
        d_chans.push_back(ref_channel);
    }
    const double mc = static_cast<double>(d_chans.size());
    const double a = mc * static_cast<double>(ns);
    const double b = mc * static_cast<double>(total_len - static_cast<long>(ns));
    // The noise (CFAR) thresholds from pfa, then the separate min_metric guard (another
    // UE's SRS: a different low-PAPR sequence correlates at ~1/N_sc); both are reported.
    d_noise_acq = threshold_for(pfa / static_cast<double>(t), a, b);
    d_noise_trk =
        threshold_for(pfa / static_cast<double>(d_hyp * (2 * track_window + 1)), a, b);
    d_eta_acq = std::max(d_noise_acq, min_metric);
    d_eta_trk = std::max(d_noise_trk, min_metric);

    d_a_min = d_a.front();
    d_b_max = d_a.back() + d_l.back();
    d_span = d_b_max - d_a_min;

    int nf = 256;
    while (nf < 2 * d_span)
        nf *= 2;
    d_fft = std::make_unique<fft_state>(nf);
    d_fft->bout = nf - d_span + 1;
    d_fft->x.resize(nf);
    d_fft->g.resize(ns);
    for (std::size_t s = 0; s < ns; s++) {
        cplx* in = d_fft->fwd.get_inbuf();
        std::fill(in, in + nf, cplx(0.0f, 0.0f));
        const int off = d_a[s] - d_a_min;
        for (int i = 0; i < d_l[s]; i++)
            in[off + i] = d_ref[d_a[s] + i];
        d_fft->fwd.execute();
        const cplx* out = d_fft->fwd.get_outbuf();
        d_fft->g[s].resize(nf);
        for (int k = 0; k < nf; k++)
            d_fft->g[s][k] = std::conj(out[k]) / static_cast<float>(nf);
    }
    d_buf.resize(d_chans.size());
    d_pre.assign(d_chans.size(), std::vector<double>(1, 0.0));
}

srs_sync_kernel::~srs_sync_kernel() = default;

double srs_sync_kernel::tail_probability(double eta, double a, double b)
{
    if (eta <= 0.0)
        return 1.0;
    if (eta >= 1.0)
        return 0.0;
    const double n = a + b - 1.0;
    const double lg = std::lgamma(n + 1.0);
    const double le = std::log(eta), l1 = std::log1p(-eta);
    double sum = 0.0;
    for (int j = 0; j < static_cast<int>(a); j++) {
        const double lt =
            lg - std::lgamma(j + 1.0) - std::lgamma(n - j + 1.0) + j * le + (n - j) * l1;
        sum += std::exp(lt);
    }
    return std::min(1.0, sum);
}

double srs_sync_kernel::threshold_for(double p, double a, double b)
{
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 200; it++) {
        const double mid = 0.5 * (lo + hi);
        if (tail_probability(mid, a, b) > p)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

double srs_sync_kernel::effective_pfa() const
{
    const std::size_t ns = d_a.size();
    long total_len = 0;
    for (auto l : d_l)
        total_len += l;
    const double mc = static_cast<double>(d_chans.size());
    return std::min(1.0,
                    static_cast<double>(d_ref.size()) *
                        tail_probability(d_eta_acq,
                                         mc * static_cast<double>(ns),
                                         mc * static_cast<double>(total_len - ns)));
}

double srs_sync_kernel::effective_tracking_pfa() const
{
    const std::size_t ns = d_a.size();
    long total_len = 0;
    for (auto l : d_l)
        total_len += l;
    const double mc = static_cast<double>(d_chans.size());
    return std::min(1.0,
                    static_cast<double>(d_hyp * (2 * d_w + 1)) *
                        tail_probability(d_eta_trk,
                                         mc * static_cast<double>(ns),
                                         mc * static_cast<double>(total_len - ns)));
}

std::int64_t srs_sync_kernel::lookahead() const
{
    // acquisition: a crossing waits for metrics span + 1 beyond it, which may need one
    // more FFT block of nf samples (+ a_0 + nf of input); tracking: 2W + 3 + b_max
    return static_cast<std::int64_t>(d_b_max) + 2 * static_cast<std::int64_t>(d_fft->nf) +
           d_span + 2 * d_w + 4 + pattern_spread();
}

std::int64_t srs_sync_kernel::pattern_spread() const
{
    // how far apart the predicted starts can be: the spread of the k-step sums
    if (d_pattern.size() < 2)
        return 0;
    const auto mm = std::minmax_element(d_pattern.begin(), d_pattern.end());
    return static_cast<std::int64_t>(d_max_misses) * (*mm.second - *mm.first);
}

std::int64_t srs_sync_kernel::tracking_lookahead() const
{
    return static_cast<std::int64_t>(d_b_max) + 2 * static_cast<std::int64_t>(d_w) + 4 +
           pattern_spread();
}

std::int64_t srs_sync_kernel::decided() const
{
    if (d_finished || !d_enabled)
        return d_fed;
    if (d_state == 0)
        return d_scan;
    return d_pred - d_w;
}

double srs_sync_kernel::energy(std::size_t c, std::int64_t from, std::int64_t to) const
{
    if (d_use_pre)
        return d_pre[c][static_cast<std::size_t>(to - d_base)] -
               d_pre[c][static_cast<std::size_t>(from - d_base)];
    // tracking: a few windows per slot, computed directly
    const float* f = reinterpret_cast<const float*>(d_buf[c].data() + (from - d_base));
    float e = 0.0f;
    volk_32f_x2_dot_prod_32f(&e, f, f, static_cast<unsigned int>(2 * (to - from)));
    return static_cast<double>(e);
}

void srs_sync_kernel::set_prefix(bool on)
{
    if (on == d_use_pre)
        return;
    d_use_pre = on;
    for (std::size_t c = 0; c < d_buf.size(); c++) {
        auto& pre = d_pre[c];
        if (!on) {
            pre.clear();
            pre.shrink_to_fit();
            continue;
        }
        const auto& buf = d_buf[c];
        pre.resize(buf.size() + 1);
        double acc = 0.0;
        pre[0] = 0.0;
        for (std::size_t i = 0; i < buf.size(); i++) {
            acc += static_cast<double>(std::norm(buf[i]));
            pre[i + 1] = acc;
        }
    }
}

void srs_sync_kernel::process(const cplx* const* in, std::size_t n)
{
    // While tracking, only the samples of the next search window (its first start - 1 to
    // its last start + 1 + b_max) are buffered: the samples before it are skipped, and
    // the input is taken window by window so that the samples after a window are not
    // copied before the tracking step has moved the prediction past them.
    std::size_t pos = 0;
    while (pos < n) {
        std::size_t skip = 0, take = n - pos;
        if (d_enabled && !d_finished && d_state != 0 && !d_use_pre) {
            const std::int64_t keep = d_pred - d_w - 2 + d_a_min;
            if (keep > d_fed) {
                skip = static_cast<std::size_t>(std::min<std::int64_t>(
                    static_cast<std::int64_t>(n - pos), keep - d_fed));
                for (auto& b : d_buf)
                    b.clear();
                d_base = d_fed + static_cast<std::int64_t>(skip);
            }
            const std::int64_t end = d_pred_hi + d_w + 1 + d_b_max; // windows complete
            const std::int64_t from = d_fed + static_cast<std::int64_t>(skip);
            if (end > from)
                take = skip + static_cast<std::size_t>(std::min<std::int64_t>(
                                  static_cast<std::int64_t>(n - pos - skip), end - from));
        }
        append(in, pos + skip, take - skip);
        d_fed += static_cast<std::int64_t>(take);
        pos += take;
        if (d_enabled && !d_finished)
            run();
        trim();
    }
}

void srs_sync_kernel::append(const cplx* const* in, std::size_t from, std::size_t nn)
{
    if (nn == 0)
        return;
    for (std::size_t c = 0; c < d_chans.size(); c++) {
        const cplx* x = in[d_chans[c]] + from;
        auto& buf = d_buf[c];
        const std::size_t old = buf.size();
        buf.resize(old + nn);
        std::memcpy(buf.data() + old, x, nn * sizeof(cplx)); // insert() copies per float
        // fast check: the sum of all components is finite iff every sample is (up to
        // float overflow of huge finite values, which the slow path leaves untouched)
        float sum = 0.0f;
        volk_32f_accumulator_s32f(
            &sum, reinterpret_cast<const float*>(x), static_cast<unsigned int>(2 * nn));
        if (!std::isfinite(sum)) {
            for (std::size_t i = old; i < old + nn; i++) {
                if (!std::isfinite(buf[i].real()) || !std::isfinite(buf[i].imag())) {
                    buf[i] = cplx(0.0f, 0.0f);
                    d_nonfinite++;
                }
            }
        }
        if (d_use_pre) {
            auto& pre = d_pre[c];
            pre.resize(old + nn + 1);
            double acc = pre[old];
            for (std::size_t i = old; i < old + nn; i++) {
                acc += static_cast<double>(std::norm(buf[i]));
                pre[i + 1] = acc;
            }
        }
    }
}

void srs_sync_kernel::run()
{
    for (;;) {
        const bool progressed = (d_state == 0) ? acquire_step() : track_step();
        if (!progressed)
            break;
    }
}

void srs_sync_kernel::finish()
{
    if (d_finished)
        return;
    d_finished = true;
    if (d_enabled)
        run();
    // occasions expected after the last detection whose SRS symbols were all fed
    if (d_have_occ && d_continuous && d_period > 0) {
        const std::int64_t room = d_fed - d_b_max - (d_last_index - d_gap);
        if (room >= d_period)
            d_missed += static_cast<std::uint64_t>(room / d_period);
    }
}

void srs_sync_kernel::restart_after_gap(std::int64_t missing_samples)
{
    const bool keep = missing_samples >= 0 && d_continuous;
    const std::int64_t gap = d_gap;
    restart();
    if (keep) {
        d_continuous = true;
        d_gap = gap + missing_samples;
    }
}

void srs_sync_kernel::restart()
{
    for (std::size_t c = 0; c < d_buf.size(); c++) {
        d_buf[c].clear();
        d_pre[c].assign(1, 0.0);
    }
    d_use_pre = true;
    d_base = d_fed;
    d_metric.clear();
    d_mbase = d_mend = d_scan = d_fed;
    d_state = 0;
    d_misses = 0;
    d_continuous = false;
    d_gap = 0;
    // An occasion whose SRS symbols began before the restart point shows only its
    // sidelobes after it (the identical SRS symbols, one symbol or half a comb-2 symbol
    // apart), and they all lie within one span of that point: no detection there.
    d_acq_guard = d_fed + d_span;
    d_restarts++;
}

void srs_sync_kernel::set_enabled(bool enabled)
{
    if (enabled == d_enabled)
        return;
    d_enabled = enabled;
    restart();
    // a new sample rate is a new stream (no samples missing): no guard, as at the start
    d_acq_guard = std::numeric_limits<std::int64_t>::min();
}

std::vector<srs_detection> srs_sync_kernel::take_detections()
{
    std::vector<srs_detection> out;
    out.swap(d_out);
    return out;
}

bool srs_sync_kernel::compute_metric_block()
{
    fft_state& f = *d_fft;
    const std::int64_t n0 = d_mend;
    const std::int64_t w0 = n0 + d_a_min; // first window sample
    if (w0 < d_base)
        return false; // cannot happen: the buffer keeps everything from d_scan on
    std::int64_t bv = f.bout;
    if (w0 + f.nf > d_fed) {
        if (!d_finished)
            return false;
        bv = std::min<std::int64_t>(bv, d_fed - d_b_max - n0 + 1);
        if (bv <= 0)
            return false;
    }
    const std::size_t ns = d_a.size();
    std::vector<double> num(static_cast<std::size_t>(bv), 0.0);
    for (std::size_t c = 0; c < d_chans.size(); c++) {
        cplx* in = f.fwd.get_inbuf();
        const std::int64_t off = w0 - d_base;
        const std::int64_t avail = std::min<std::int64_t>(
            f.nf, static_cast<std::int64_t>(d_buf[c].size()) - off);
        std::copy(d_buf[c].begin() + off, d_buf[c].begin() + off + avail, in);
        std::fill(in + avail, in + f.nf, cplx(0.0f, 0.0f));
        f.fwd.execute();
        std::copy(f.fwd.get_outbuf(), f.fwd.get_outbuf() + f.nf, f.x.begin());
        for (std::size_t s = 0; s < ns; s++) {
            cplx* rin = f.rev.get_inbuf();
            volk_32fc_x2_multiply_32fc(rin, f.x.data(), f.g[s].data(), f.nf);
            f.rev.execute();
            const cplx* out = f.rev.get_outbuf();
            const double inv = 1.0 / d_rnorm[s];
            for (std::int64_t j = 0; j < bv; j++)
                num[j] += static_cast<double>(std::norm(out[j])) * inv;
        }
    }
    d_metric.reserve(d_metric.size() + static_cast<std::size_t>(bv));
    for (std::int64_t j = 0; j < bv; j++) {
        const std::int64_t n = n0 + j;
        double den = 0.0;
        for (std::size_t c = 0; c < d_chans.size(); c++)
            for (std::size_t s = 0; s < ns; s++)
                den += energy(c, n + d_a[s], n + d_a[s] + d_l[s]);
        double rho = den > 0.0 ? num[j] / den : 0.0;
        d_metric.push_back(std::min(1.0, std::max(0.0, rho)));
    }
    d_mend += bv;
    return true;
}

double srs_sync_kernel::eval_direct(std::int64_t n, std::vector<cplx>* corr) const
{
    const std::size_t ns = d_a.size();
    if (corr)
        corr->assign(d_chans.size() * ns, cplx(0.0f, 0.0f));
    double num = 0.0, den = 0.0;
    for (std::size_t c = 0; c < d_chans.size(); c++) {
        for (std::size_t s = 0; s < ns; s++) {
            const std::int64_t start = n + d_a[s] - d_base;
            if (start < 0 || start + d_l[s] > static_cast<std::int64_t>(d_buf[c].size()))
                return nan_value;
            const cplx v =
                dot_conj(d_buf[c].data() + start, d_ref.data() + d_a[s], d_l[s]);
            if (corr)
                (*corr)[c * ns + s] = v;
            num += static_cast<double>(std::norm(v)) / d_rnorm[s];
            den += energy(c, n + d_a[s], n + d_a[s] + d_l[s]);
        }
    }
    if (!(den > 0.0))
        return 0.0;
    return std::min(1.0, std::max(0.0, num / den));
}

double srs_sync_kernel::metric_at(std::int64_t n) const
{
    return eval_direct(n, nullptr);
}

void srs_sync_kernel::emit(std::int64_t n)
{
    std::vector<cplx> corr;
    const double r0 = eval_direct(n, &corr);
    const double rm = eval_direct(n - 1, nullptr);
    const double rp = eval_direct(n + 1, nullptr);
    emit_values(n, corr, rm, r0, rp, advance_since_last(n));
}

std::int64_t srs_sync_kernel::advance_since_last(std::int64_t n) const
{
    // a new acquisition: whole periods since the last detection when the stream was
    // continuous (or its gaps of known length), else the next number
    if (!d_have_occ || !d_continuous || d_period <= 0)
        return 1;
    return std::max<std::int64_t>(1,
                                  (n - d_last_index + d_gap + d_period / 2) / d_period);
}

void srs_sync_kernel::emit_values(std::int64_t n,
                                  const std::vector<cplx>& corr,
                                  double rm,
                                  double r0,
                                  double rp,
                                  std::int64_t advance)
{
    double frac = 0.0;
    if (std::isfinite(rm) && std::isfinite(rp)) {
        const double den = rm - 2.0 * r0 + rp;
        if (den < 0.0)
            frac = std::max(-0.5, std::min(0.5, 0.5 * (rm - rp) / den));
    }

    // CFO from the phase advance between consecutive SRS symbols (or segment halves).
    const std::size_t ns = d_a.size();
    double cfo = 0.0;
    if (ns >= 2) {
        bool uniform = true;
        const int d0 = d_a[1] - d_a[0];
        for (std::size_t s = 1; s + 1 < ns; s++)
            uniform = uniform && (d_a[s + 1] - d_a[s] == d0);
        std::complex<double> zsum = 0.0;
        double wsum = 0.0, fsum = 0.0;
        for (std::size_t s = 0; s + 1 < ns; s++) {
            std::complex<double> z = 0.0;
            for (std::size_t c = 0; c < d_chans.size(); c++)
                z += std::complex<double>(corr[c * ns + s + 1]) *
                     std::conj(std::complex<double>(corr[c * ns + s]));
            zsum += z;
            const double dist = d_a[s + 1] - d_a[s];
            wsum += std::abs(z);
            fsum += std::abs(z) * std::arg(z) / dist;
        }
        if (uniform)
            cfo = std::arg(zsum) * d_fs / (2.0 * M_PI * d0);
        else if (wsum > 0.0)
            cfo = fsum / wsum * d_fs / (2.0 * M_PI);
    } else {
        const int half = d_l[0] / 2;
        std::complex<double> z = 0.0;
        for (std::size_t c = 0; c < d_chans.size(); c++) {
            const std::int64_t start = n + d_a[0] - d_base;
            const cplx* y = d_buf[c].data() + start;
            const cplx* r = d_ref.data() + d_a[0];
            const cplx h1 = dot_conj(y, r, half);
            const cplx h2 = dot_conj(y + half, r + half, half);
            z += std::complex<double>(h2) * std::conj(std::complex<double>(h1));
        }
        cfo = std::arg(z) * d_fs / (2.0 * M_PI * half);
    }

    std::uint64_t occ = 0;
    if (d_have_occ) {
        occ = d_occasion + static_cast<std::uint64_t>(std::max<std::int64_t>(1, advance));
        if (d_continuous)
            d_missed += occ - d_occasion - 1;
    }
    d_continuous = true;
    d_gap = 0;
    d_have_occ = true;
    d_occasion = occ;
    d_last_index = n;
    d_out.push_back(srs_detection{ n, frac, r0, cfo, occ });
}

bool srs_sync_kernel::acquire_step()
{
    while (d_scan < d_mend) {
        if (d_metric[static_cast<std::size_t>(d_scan - d_mbase)] > d_eta_acq)
            break;
        d_scan++;
    }
    if (d_scan >= d_mend)
        return compute_metric_block();

    const std::int64_t i = d_scan;
    std::int64_t end = i + d_span;
    if (d_mend <= end + 1) {
        if (compute_metric_block())
            return true;
        if (!d_finished)
            return false;
        end = d_mend - 1;
    }
    std::int64_t best = i;
    double bv = -1.0;
    for (std::int64_t n = i; n <= end; n++) {
        const double v = d_metric[static_cast<std::size_t>(n - d_mbase)];
        if (v > bv) {
            bv = v;
            best = n;
        }
    }
    if (best < d_acq_guard) {
        // a truncated occasion's sidelobe, or an occasion too close to the restart to
        // tell from one: scan on past the guard and past this peak's own sidelobes (all
        // within one span of it)
        d_scan = std::max(best + d_span + 1, d_acq_guard);
        if (d_scan > d_mend) {
            d_metric.clear();
            d_mbase = d_mend = d_scan;
        }
        return true;
    }
    emit(best);
    if (d_period > 0) {
        d_state = 1;
        d_anchor = best;
        d_steps = 1;
        std::fill(d_phase_ok.begin(), d_phase_ok.end(), 1);
        set_predictions();
        d_misses = 0;
        set_prefix(false);
    } else {
        d_scan = best + d_span;
        if (d_scan > d_mend) {
            d_metric.clear();
            d_mbase = d_mend = d_scan;
        }
    }
    return true;
}

void srs_sync_kernel::set_predictions()
{
    const std::size_t c = d_pattern.size();
    bool first = true;
    for (std::size_t ph = 0; ph < c; ph++) {
        if (!d_phase_ok[ph])
            continue;
        std::int64_t p = d_anchor;
        for (std::int64_t i = 0; i < d_steps; i++)
            p += d_pattern[(ph + static_cast<std::size_t>(i)) % c];
        if (first || p < d_pred)
            d_pred = p;
        if (first || p > d_pred_hi)
            d_pred_hi = p;
        first = false;
    }
    if (first) { // no consistent phase left (cannot happen): all of them again
        std::fill(d_phase_ok.begin(), d_phase_ok.end(), 1);
        set_predictions();
    }
}

bool srs_sync_kernel::ascend(std::int64_t pred,
                             std::int64_t& best,
                             double& rm,
                             double& r0,
                             double& rp,
                             std::vector<cplx>& corr_best)
{
    // Greedy ascent from the prediction: rho is evaluated lazily (dot products per
    // candidate, window energies slid one sample at a time) and the search moves to a
    // neighbour while it is higher, within pred +- W; the candidates on both sides of the
    // final one are always evaluated (parabolic fraction). A stationary UE costs three
    // candidates instead of 2W + 3; the noise-only false-detection bound is unchanged (at
    // most 2W + 1 candidates are compared with the threshold).
    const std::int64_t lo = pred - d_w - 1, hi = pred + d_w + 1;
    const std::size_t ns = d_a.size(), nch = d_chans.size();
    const auto nc = static_cast<std::size_t>(hi - lo + 1);
    std::vector<double> rho(nc, nan_value), e(nch * ns);
    std::vector<cplx> corr(nc * nch * ns);
    std::int64_t e_at = pred; // e holds the window energies of candidate e_at
    for (std::size_t c = 0; c < nch; c++)
        for (std::size_t s = 0; s < ns; s++)
            e[c * ns + s] = energy(c, e_at + d_a[s], e_at + d_a[s] + d_l[s]);
    auto slide_to = [&](std::int64_t n) {
        while (e_at != n) {
            const bool up = n > e_at;
            const std::int64_t first = up ? e_at : e_at - 1; // lower of the two starts
            for (std::size_t c = 0; c < nch; c++) {
                const cplx* y = d_buf[c].data() + (first - d_base);
                for (std::size_t s = 0; s < ns; s++) {
                    const double head = std::norm(y[d_a[s]]);
                    const double tail = std::norm(y[d_a[s] + d_l[s]]);
                    double& en = e[c * ns + s];
                    en = std::max(0.0, up ? en + tail - head : en + head - tail);
                }
            }
            e_at += up ? 1 : -1;
        }
    };
    auto eval = [&](std::size_t i) -> double {
        if (!std::isnan(rho[i]))
            return rho[i];
        const std::int64_t n = lo + static_cast<std::int64_t>(i);
        slide_to(n);
        double num = 0.0, den = 0.0;
        for (std::size_t c = 0; c < nch; c++) {
            const cplx* y = d_buf[c].data() + (n - d_base);
            for (std::size_t s = 0; s < ns; s++) {
                const cplx v = dot_conj(y + d_a[s], d_ref.data() + d_a[s], d_l[s]);
                corr[(i * nch + c) * ns + s] = v;
                num += static_cast<double>(std::norm(v)) / d_rnorm[s];
                den += e[c * ns + s];
            }
        }
        rho[i] = den > 0.0 ? std::min(1.0, std::max(0.0, num / den)) : 0.0;
        return rho[i];
    };
    std::size_t bi = static_cast<std::size_t>(d_w) + 1; // the prediction
    eval(bi);
    eval(bi - 1);
    eval(bi + 1);
    for (;;) {
        if (bi + 2 < nc && rho[bi + 1] > rho[bi]) {
            bi++;
            eval(bi + 1);
        } else if (bi > 1 && rho[bi - 1] > rho[bi]) {
            bi--;
            eval(bi - 1);
        } else {
            break;
        }
    }
    best = lo + static_cast<std::int64_t>(bi);
    rm = rho[bi - 1];
    r0 = rho[bi];
    rp = rho[bi + 1];
    corr_best.assign(corr.begin() + bi * nch * ns, corr.begin() + (bi + 1) * nch * ns);
    return true;
}

bool srs_sync_kernel::track_step()
{
    const std::int64_t lo = d_pred - d_w - 1, hi = d_pred_hi + d_w + 1;
    if (hi + d_b_max > d_fed)
        return false;
    if (lo + d_a_min < d_base) {
        // cannot happen (the buffer keeps the windows); treat as a miss
        d_steps++;
        set_predictions();
        return true;
    }
    // one search per distinct predicted start (one once the cycle phase is known)
    const std::size_t c = d_pattern.size();
    std::vector<std::int64_t> preds(c, 0);
    for (std::size_t ph = 0; ph < c; ph++) {
        std::int64_t p = d_anchor;
        for (std::int64_t i = 0; i < d_steps; i++)
            p += d_pattern[(ph + static_cast<std::size_t>(i)) % c];
        preds[ph] = p;
    }
    std::vector<std::int64_t> distinct;
    for (std::size_t ph = 0; ph < c; ph++)
        if (d_phase_ok[ph])
            distinct.push_back(preds[ph]);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::int64_t best = 0, chosen = 0;
    double brm = 0.0, br0 = -1.0, brp = 0.0;
    std::vector<cplx> bcorr;
    for (auto p : distinct) {
        std::int64_t b;
        double rm, r0, rp;
        std::vector<cplx> cb;
        ascend(p, b, rm, r0, rp, cb);
        if (r0 > br0) {
            best = b;
            chosen = p;
            brm = rm;
            br0 = r0;
            brp = rp;
            bcorr.swap(cb);
        }
    }
    if (br0 > d_eta_trk) {
        emit_values(best, bcorr, brm, br0, brp, d_steps);
        std::vector<char> ok(c, 0);
        for (std::size_t ph = 0; ph < c; ph++)
            if (d_phase_ok[ph] && preds[ph] == chosen)
                ok[(ph + static_cast<std::size_t>(d_steps)) % c] = 1;
        d_phase_ok.swap(ok);
        d_state = 2;
        d_misses = 0;
        d_anchor = best;
        d_steps = 1;
        set_predictions();
        return true;
    }
    d_misses++;
    if (d_state == 1 || d_misses >= d_max_misses) {
        const std::int64_t from = d_pred - d_w;
        d_state = 0;
        d_misses = 0;
        d_metric.clear();
        d_mbase = d_mend = d_scan = from;
        set_prefix(true);
    } else {
        d_steps++;
        set_predictions();
    }
    return true;
}

void srs_sync_kernel::trim()
{
    std::int64_t keep;
    if (!d_enabled) {
        keep = d_fed;
    } else if (d_state == 0) {
        keep = std::min(d_scan, d_mend) - 2 + d_a_min;
        // metric values before the scan point are no longer needed
        const std::int64_t mdrop = d_scan - 2 - d_mbase;
        if (mdrop > 4096 && mdrop > static_cast<std::int64_t>(d_metric.size()) / 2) {
            d_metric.erase(d_metric.begin(), d_metric.begin() + mdrop);
            d_mbase += mdrop;
        }
    } else {
        keep = d_pred - d_w - 2 + d_a_min;
    }
    keep = std::min(keep, d_fed);
    const std::int64_t drop = keep - d_base;
    if (drop <= 0)
        return;
    const auto size = static_cast<std::int64_t>(d_buf.empty() ? 0 : d_buf[0].size());
    if (drop < 65536 && drop < size / 2 && d_enabled)
        return;
    for (std::size_t c = 0; c < d_buf.size(); c++) {
        d_buf[c].erase(d_buf[c].begin(), d_buf[c].begin() + drop);
        if (!d_use_pre)
            continue;
        auto& pre = d_pre[c];
        const double p0 = pre[static_cast<std::size_t>(drop)];
        pre.erase(pre.begin(), pre.begin() + drop);
        for (auto& v : pre)
            v -= p0;
    }
    d_base += drop;
}

} // namespace srsaoa
} // namespace gr
