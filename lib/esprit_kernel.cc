/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <gnuradio/srsaoa/esprit_kernel.h>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

// LAPACK (OpenBLAS): selected eigenpairs of a Hermitian matrix by relatively robust
// representations; Fortran calling convention with the hidden lengths of the strings.
extern "C" void zheevr_(const char* jobz,
                        const char* range,
                        const char* uplo,
                        const int* n,
                        std::complex<double>* a,
                        const int* lda,
                        const double* vl,
                        const double* vu,
                        const int* il,
                        const int* iu,
                        const double* abstol,
                        int* m,
                        double* w,
                        std::complex<double>* z,
                        const int* ldz,
                        int* isuppz,
                        std::complex<double>* work,
                        const int* lwork,
                        double* rwork,
                        const int* lrwork,
                        int* iwork,
                        const int* liwork,
                        int* info,
                        std::size_t jobz_len,
                        std::size_t range_len,
                        std::size_t uplo_len);

namespace gr {
namespace srsaoa {

namespace {
using cplx = std::complex<double>;
using Mat = Eigen::MatrixXcd;
using RVec = Eigen::VectorXd;

constexpr double kPi = 3.14159265358979323846;
constexpr double kEigFloor = 1e-12;    // order.py _EIG_FLOOR
constexpr double kGuardTw = 3.0;       // order.py GUARD_TW
constexpr double kMaxCond = 30.0;      // doa.py MAX_STEERING_COND
constexpr double kMaxPowerRatio = 4.0; // doa.py MAX_POWER_RATIO

// R as a matrix: square, finite (doa.check_covariance / order.covariance_eigvals)
Mat load(const std::vector<cplx>& r, int m)
{
    if (m < 1 || r.size() != static_cast<std::size_t>(m) * static_cast<std::size_t>(m))
        throw std::invalid_argument("covariance must be a square M x M matrix");
    Mat a(m, m);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            const cplx v = r[static_cast<std::size_t>(i) * m + j];
            if (!std::isfinite(v.real()) || !std::isfinite(v.imag()))
                throw std::invalid_argument("covariance contains NaN or Inf");
            a(i, j) = v;
        }
    return 0.5 * (a + a.adjoint());
}

// eigenvalues in descending order
RVec eigvals_desc(const Mat& h)
{
    Eigen::SelfAdjointEigenSolver<Mat> es(h, Eigen::EigenvaluesOnly);
    return es.eigenvalues().reverse();
}

double check_snapshots(double n)
{
    if (!(std::isfinite(n) && n >= 1.0))
        throw std::invalid_argument("n_snapshots must be >= 1, got " + std::to_string(n));
    return n;
}

// order._sorted_eigvals: finite, positive largest, floored
RVec floored(const RVec& lam_desc)
{
    if (lam_desc.size() < 2)
        throw std::invalid_argument("need at least 2 eigenvalues");
    for (Eigen::Index i = 0; i < lam_desc.size(); i++)
        if (!std::isfinite(lam_desc(i)))
            throw std::invalid_argument("eigenvalues must be finite");
    if (lam_desc(0) <= 0.0)
        throw std::invalid_argument(
            "covariance has no positive eigenvalue (all-zero input?)");
    return lam_desc.cwiseMax(lam_desc(0) * kEigFloor);
}

// order.py noise_edge: Marchenko-Pastur edge plus kGuardTw Tracy-Widom scales for p noise
// eigenvalues of N complex snapshots (relative to sigma^2).
double noise_edge(double p, double n)
{
    const double r = std::sqrt(p / n);
    const double scale =
        (1.0 + r) * std::cbrt(1.0 / std::sqrt(n) + 1.0 / std::sqrt(p)) / std::sqrt(n);
    return (1.0 + r) * (1.0 + r) + kGuardTw * scale;
}

int guard_order(const RVec& lam, int order, double n)
{
    const auto m = lam.size();
    int k = order;
    while (k > 0 && lam(k - 1) < noise_edge(static_cast<double>(m - k + 1), n) *
                                     lam.tail(m - k + 1).mean())
        k--;
    return k;
}

Mat steering(int m, double s, const std::vector<double>& theta_deg)
{
    Mat a(m, static_cast<Eigen::Index>(theta_deg.size()));
    for (std::size_t l = 0; l < theta_deg.size(); l++) {
        const double u = std::sin(theta_deg[l] * kPi / 180.0);
        for (int i = 0; i < m; i++)
            a(i, static_cast<Eigen::Index>(l)) =
                std::exp(cplx(0.0, 2.0 * kPi * s * static_cast<double>(i) * u));
    }
    return a;
}

// numpy.linalg.pinv(a, rcond): singular values <= rcond * max are dropped
Mat pinv(const Mat& a, double rcond)
{
    Eigen::JacobiSVD<Mat> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const RVec& sv = svd.singularValues();
    const double cutoff = sv.size() ? rcond * sv.maxCoeff() : 0.0;
    RVec inv(sv.size());
    for (Eigen::Index i = 0; i < sv.size(); i++)
        inv(i) = sv(i) > cutoff ? 1.0 / sv(i) : 0.0;
    return svd.matrixV() * inv.asDiagonal() * svd.matrixU().adjoint();
}

double cond(const Mat& a)
{
    Eigen::JacobiSVD<Mat> svd(a);
    const RVec& sv = svd.singularValues();
    const double lo = sv(sv.size() - 1);
    return lo > 0.0 ? sv(0) / lo : std::numeric_limits<double>::infinity();
}

// doa.source_powers: P = A^+ (R - sigma^2 I) A^+H
Mat source_powers(const Mat& h, const std::vector<double>& aoa, double s, double sigma2)
{
    const int m = static_cast<int>(h.rows());
    const Mat ap = pinv(steering(m, s, aoa), 1e-10);
    return ap * (h - sigma2 * Mat::Identity(m, m)) * ap.adjoint();
}

// doa.prune_paths
std::vector<double> prune(const Mat& h, std::vector<double> aoa, double s, double sigma2)
{
    const int m = static_cast<int>(h.rows());
    const double per_element = h.trace().real() / m;
    while (aoa.size() > 1) {
        const Mat a = steering(m, s, aoa);
        if (cond(a) <= kMaxCond)
            break;
        std::size_t bi = 0, bj = 0;
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < aoa.size(); i++)
            for (std::size_t j = 0; j < aoa.size(); j++) {
                const double d = std::abs(std::sin(aoa[i] * kPi / 180.0) -
                                          std::sin(aoa[j] * kPi / 180.0)) +
                                 (i == j ? 1e9 : 0.0);
                if (d < best) {
                    best = d;
                    bi = i;
                    bj = j;
                }
            }
        const auto ci = static_cast<Eigen::Index>(bi), cj = static_cast<Eigen::Index>(bj);
        const double gi = (a.col(ci).adjoint() * h * a.col(ci))(0, 0).real();
        const double gj = (a.col(cj).adjoint() * h * a.col(cj))(0, 0).real();
        aoa.erase(aoa.begin() + static_cast<std::ptrdiff_t>(gi < gj ? bi : bj));
    }
    while (!aoa.empty()) {
        const Mat p = source_powers(h, aoa, s, sigma2);
        bool any_bad = false;
        std::size_t worst = 0;
        double worst_v = -std::numeric_limits<double>::infinity();
        for (std::size_t l = 0; l < aoa.size(); l++) {
            const double v =
                p(static_cast<Eigen::Index>(l), static_cast<Eigen::Index>(l)).real();
            const bool finite = std::isfinite(v);
            any_bad = any_bad || !finite || v > kMaxPowerRatio * per_element;
            const double key = finite ? v : std::numeric_limits<double>::infinity();
            if (key > worst_v) {
                worst_v = key;
                worst = l;
            }
        }
        if (!any_bad)
            break;
        aoa.erase(aoa.begin() + static_cast<std::ptrdiff_t>(worst));
    }
    return aoa;
}

// doa._rotation: Psi with E_2 = E_1 Psi, total least squares or least squares
Mat rotation(const Mat& e1, const Mat& e2, bool tls)
{
    const Eigen::Index d = e1.cols();
    if (!tls) {
        Eigen::FullPivLU<Mat> lu(e1.adjoint() * e1);
        if (!lu.isInvertible())
            throw std::runtime_error("singular matrix in ESPRIT");
        return lu.solve(e1.adjoint() * e2);
    }
    Mat e(e1.rows(), 2 * d);
    e << e1, e2;
    Eigen::SelfAdjointEigenSolver<Mat> es(e.adjoint() * e);
    Mat v(2 * d, 2 * d); // eigenvectors, descending eigenvalues
    for (Eigen::Index k = 0; k < 2 * d; k++)
        v.col(k) = es.eigenvectors().col(2 * d - 1 - k);
    const Mat v12 = v.block(0, d, d, d), v22 = v.block(d, d, d, d);
    Eigen::FullPivLU<Mat> lu(v22);
    if (!lu.isInvertible())
        throw std::runtime_error("singular matrix in ESPRIT");
    return -v12 * lu.inverse();
}

double phase_to_deg(double phase, double spacing)
{
    const double sn = std::min(std::max(phase / (2.0 * kPi * spacing), -1.0), 1.0);
    return std::asin(sn) * 180.0 / kPi;
}

// doa.noise_power: mean of the M - d smallest eigenvalues (0 at rounding level)
double noise_power(const RVec& w_desc, int order)
{
    const auto m = static_cast<int>(w_desc.size());
    if (order >= m)
        return 0.0;
    const double sigma2 = w_desc.tail(m - order).mean();
    return sigma2 > 1e-12 * std::abs(w_desc(0)) ? sigma2 : 0.0;
}

// crb.crb_stochastic: sqrt of the bound per source, degrees; empty optional on failure
std::vector<double>
crb_stochastic(const std::vector<double>& aoa, double n, int m, double s, const Mat& p)
{
    if (!(std::isfinite(n) && n >= 1.0))
        throw std::invalid_argument("n_snapshots must be >= 1");
    for (Eigen::Index i = 0; i < p.size(); i++)
        if (!std::isfinite(p(i).real()) || !std::isfinite(p(i).imag()))
            throw std::invalid_argument("source powers must be finite");
    const Mat a = steering(m, s, aoa);
    Mat d(m, a.cols());
    for (Eigen::Index l = 0; l < a.cols(); l++) {
        const double c = std::cos(aoa[static_cast<std::size_t>(l)] * kPi / 180.0);
        for (int i = 0; i < m; i++)
            d(i, l) = cplx(0.0, 2.0 * kPi * s * static_cast<double>(i) * c) * a(i, l);
    }
    const Mat r = a * p * a.adjoint() + Mat::Identity(m, m);
    const Mat q = p * a.adjoint() * r.partialPivLu().solve(a) * p;
    const Mat proj = Mat::Identity(m, m) - a * pinv(a, 1e-15);
    const Mat hm = d.adjoint() * proj * d;
    const Eigen::MatrixXd fim = hm.cwiseProduct(q.transpose()).real();
    const Eigen::MatrixXd crb = fim.partialPivLu().inverse() / (2.0 * n);
    std::vector<double> out(aoa.size());
    for (std::size_t l = 0; l < aoa.size(); l++) {
        const double v = crb(static_cast<Eigen::Index>(l), static_cast<Eigen::Index>(l));
        const double sd = std::sqrt(std::max(v, 0.0)) * 180.0 / kPi;
        out[l] = (std::isfinite(sd) && sd > 0.0)
                     ? sd
                     : std::numeric_limits<double>::infinity();
    }
    return out;
}
} // namespace

esprit_kernel::esprit_kernel(double spacing_wavelengths,
                             bool tls,
                             double fov_min_deg,
                             double fov_max_deg)
    : d_spacing(spacing_wavelengths), d_tls(tls), d_fov_min(fov_min_deg),
      d_fov_max(fov_max_deg)
{
    if (!(std::isfinite(spacing_wavelengths) && spacing_wavelengths > 0.0))
        throw std::invalid_argument("esprit_kernel: spacing_wavelengths must be > 0");
    if (!(-90.0 <= fov_min_deg && fov_min_deg < fov_max_deg && fov_max_deg <= 90.0))
        throw std::invalid_argument(
            "esprit_kernel: need -90 <= fov_min_deg < fov_max_deg <= 90");
}

int esprit_kernel::estimate_order(
    const std::vector<cplx>& r, int m, double n_snapshots, bool mdl, bool guard)
{
    const Mat h = load(r, m);
    if (m < 2)
        throw std::invalid_argument("order estimation needs at least 2 array elements");
    const double n = check_snapshots(n_snapshots);
    const RVec lam = floored(eigvals_desc(h));
    int best_k = 0;
    double best = std::numeric_limits<double>::infinity();
    for (int k = 0; k < m; k++) {
        const RVec tail = lam.tail(m - k);
        const double log_g = tail.array().log().mean();
        const double log_a = std::log(tail.mean());
        const double ll = n * (m - k) * std::min(log_g - log_a, 0.0);
        const double free = static_cast<double>(k) * (2.0 * m - k);
        const double crit = mdl ? -ll + 0.5 * free * std::log(n) : -2.0 * ll + 2.0 * free;
        if (crit < best) {
            best = crit;
            best_k = k;
        }
    }
    return guard && best_k > 0 ? guard_order(lam, best_k, n) : best_k;
}

esprit_estimate
esprit_kernel::estimate(const std::vector<cplx>& r, int m, int order, double n_snapshots)
{
    if (m < 2)
        throw std::invalid_argument("covariance must be a square M x M matrix, M >= 2");
    const Mat h = load(r, m);
    if (h.cwiseAbs().maxCoeff() == 0.0)
        throw std::invalid_argument("covariance is all zeros");
    if (order < 0)
        throw std::invalid_argument("order must be an integer >= 0");
    Eigen::SelfAdjointEigenSolver<Mat> es(h);
    const RVec w = es.eigenvalues().reverse(); // descending
    esprit_estimate out;
    out.order = order;
    if (order == 0) {
        out.noise_power = w.mean();
        out.snr_db = std::numeric_limits<double>::quiet_NaN();
        return out;
    }
    if (order > m - 1)
        throw std::invalid_argument("order " + std::to_string(order) +
                                    " is too large: esprit on " + std::to_string(m) +
                                    " elements resolves at most " +
                                    std::to_string(m - 1) + " paths");
    const int d = order;
    Mat esig(m, d); // signal subspace, strongest first
    for (int k = 0; k < d; k++)
        esig.col(k) = es.eigenvectors().col(m - 1 - k);
    const Mat psi = rotation(esig.topRows(m - 1), esig.bottomRows(m - 1), d_tls);
    Eigen::ComplexEigenSolver<Mat> ce(psi, false);
    std::vector<double> aoa;
    for (int k = 0; k < d; k++) {
        const double a = phase_to_deg(std::arg(ce.eigenvalues()(k)), d_spacing);
        if (a >= d_fov_min && a <= d_fov_max)
            aoa.push_back(a);
    }
    const double sigma2 = noise_power(w, d);
    if (!aoa.empty())
        aoa = prune(h, aoa, d_spacing, sigma2);
    Mat pmat;
    std::vector<double> power(aoa.size());
    if (!aoa.empty()) {
        pmat = source_powers(h, aoa, d_spacing, sigma2);
        for (std::size_t l = 0; l < aoa.size(); l++)
            power[l] = std::max(
                pmat(static_cast<Eigen::Index>(l), static_cast<Eigen::Index>(l)).real(),
                0.0);
    }
    // strongest first (numpy argsort(...)[::-1] of a short array: ties in reverse order)
    std::vector<std::size_t> idx(aoa.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        return power[a] < power[b];
    });
    std::reverse(idx.begin(), idx.end());
    Mat psorted(static_cast<Eigen::Index>(aoa.size()),
                static_cast<Eigen::Index>(aoa.size()));
    double total = 0.0;
    for (std::size_t i = 0; i < idx.size(); i++) {
        out.aoa_deg.push_back(aoa[idx[i]]);
        out.power.push_back(power[idx[i]]);
        total += power[idx[i]];
        for (std::size_t j = 0; j < idx.size(); j++)
            psorted(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = pmat(
                static_cast<Eigen::Index>(idx[i]), static_cast<Eigen::Index>(idx[j]));
    }
    out.noise_power = sigma2;
    out.snr_db = (sigma2 > 0.0 && total > 0.0) ? 10.0 * std::log10(total / sigma2)
                                               : std::numeric_limits<double>::infinity();
    const std::size_t np = out.aoa_deg.size();
    if (n_snapshots > 0.0 && np > 0 && sigma2 > 0.0 && np < static_cast<std::size_t>(m)) {
        bool inside = true;
        for (double a : out.aoa_deg)
            inside = inside && std::abs(a) < 90.0;
        if (inside)
            out.crb_deg =
                crb_stochastic(out.aoa_deg, n_snapshots, m, d_spacing, psorted / sigma2);
    }
    return out;
}

esprit2d_kernel::esprit2d_kernel(double spacing_wavelengths,
                                 bool tls,
                                 double fov_min_deg,
                                 double fov_max_deg,
                                 int smoothing)
    : d_spacing(spacing_wavelengths), d_tls(tls), d_fov_min(fov_min_deg),
      d_fov_max(fov_max_deg), d_smoothing(smoothing)
{
    if (!(std::isfinite(spacing_wavelengths) && spacing_wavelengths > 0.0))
        throw std::invalid_argument("esprit2d_kernel: spacing_wavelengths must be > 0");
    if (!(-90.0 <= fov_min_deg && fov_min_deg < fov_max_deg && fov_max_deg <= 90.0))
        throw std::invalid_argument(
            "esprit2d_kernel: need -90 <= fov_min_deg < fov_max_deg <= 90");
    if (smoothing != 0 && smoothing < 2)
        throw std::invalid_argument(
            "esprit2d_kernel: smoothing must be 0 (auto) or >= 2");
}

int esprit2d_kernel::default_smoothing(int m, int k)
{
    return std::max(2, std::min(k / 2, std::max(2, 64 / std::max(m, 1))));
}

namespace {
// the d eigenvectors of the largest eigenvalues of Hermitian c, largest first (LAPACK
// zheevr computes only those, several times faster than all of a 64 x 64 matrix)
Mat top_eigenvectors(const Mat& c, int d)
{
    const int n = static_cast<int>(c.rows());
    Mat a = c; // overwritten
    const int il = n - d + 1, iu = n;
    const double vl = 0.0, vu = 0.0, abstol = 0.0;
    int found = 0, info = 0;
    std::vector<double> w(static_cast<std::size_t>(n));
    Mat z(n, d);
    std::vector<int> isuppz(2 * static_cast<std::size_t>(d));
    int lwork = -1, lrwork = -1, liwork = -1;
    cplx wq;
    double rq = 0.0;
    int iq = 0;
    zheevr_("V",
            "I",
            "L",
            &n,
            a.data(),
            &n,
            &vl,
            &vu,
            &il,
            &iu,
            &abstol,
            &found,
            w.data(),
            z.data(),
            &n,
            isuppz.data(),
            &wq,
            &lwork,
            &rq,
            &lrwork,
            &iq,
            &liwork,
            &info,
            1,
            1,
            1);
    lwork = std::max(2 * n, static_cast<int>(wq.real()));
    lrwork = std::max(24 * n, static_cast<int>(rq));
    liwork = std::max(10 * n, iq);
    std::vector<cplx> work(static_cast<std::size_t>(lwork));
    std::vector<double> rwork(static_cast<std::size_t>(lrwork));
    std::vector<int> iwork(static_cast<std::size_t>(liwork));
    zheevr_("V",
            "I",
            "L",
            &n,
            a.data(),
            &n,
            &vl,
            &vu,
            &il,
            &iu,
            &abstol,
            &found,
            w.data(),
            z.data(),
            &n,
            isuppz.data(),
            work.data(),
            &lwork,
            rwork.data(),
            &lrwork,
            iwork.data(),
            &liwork,
            &info,
            1,
            1,
            1);
    if (info != 0 || found != d)
        throw std::runtime_error("zheevr failed (info " + std::to_string(info) + ")");
    return z.rowwise().reverse(); // ascending -> largest first
}

// doa._uniform_step: the subcarrier step, checked uniform
double uniform_step(const std::vector<double>& f)
{
    if (f.size() < 2)
        throw std::invalid_argument("need at least 2 subcarrier frequencies");
    std::vector<double> df(f.size() - 1);
    for (std::size_t i = 0; i + 1 < f.size(); i++)
        df[i] = f[i + 1] - f[i];
    std::vector<double> sorted = df;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    const double step = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    bool ok = step != 0.0;
    for (double v : df)
        ok = ok && std::abs(v - step) <= 1e-3 + 1e-6 * std::abs(step);
    if (!ok)
        throw std::invalid_argument(
            "2D-ESPRIT needs uniformly spaced subcarriers (one SRS comb)");
    return step;
}
} // namespace

esprit2d_estimate esprit2d_kernel::estimate(const std::complex<float>* h,
                                            int m,
                                            int s,
                                            int k,
                                            const std::vector<double>& freqs_hz,
                                            int order,
                                            bool mdl) const
{
    if (m < 1 || s < 1 || k < 1)
        throw std::invalid_argument("CFR must be [M, S, K] with M, S, K >= 1");
    const std::size_t ns = static_cast<std::size_t>(s) * static_cast<std::size_t>(k);
    // x[m][s][k] in double, rows of X = [M, S*K] for the spatial covariance
    Mat x(m, static_cast<Eigen::Index>(ns));
    for (int i = 0; i < m; i++)
        for (std::size_t j = 0; j < ns; j++) {
            const std::complex<float> v = h[static_cast<std::size_t>(i) * ns + j];
            if (!std::isfinite(v.real()) || !std::isfinite(v.imag()))
                throw std::invalid_argument("CFR contains NaN or Inf");
            x(i, static_cast<Eigen::Index>(j)) = cplx(v.real(), v.imag());
        }
    if (m < 2)
        throw std::invalid_argument("covariance must be a square M x M matrix, M >= 2");
    const double n_snap = static_cast<double>(ns);
    Mat r = x * x.adjoint() / n_snap;
    r = 0.5 * (r + r.adjoint()).eval();
    if (r.cwiseAbs().maxCoeff() == 0.0)
        throw std::invalid_argument("covariance is all zeros");
    if (order < 0) {
        std::vector<cplx> rv(static_cast<std::size_t>(m) * m);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                rv[static_cast<std::size_t>(i) * m + j] = r(i, j);
        order = esprit_kernel::estimate_order(rv, m, n_snap, mdl);
    }
    const RVec w = Eigen::SelfAdjointEigenSolver<Mat>(r, Eigen::EigenvaluesOnly)
                       .eigenvalues()
                       .reverse();
    esprit2d_estimate out;
    out.order = order;
    if (order == 0) {
        out.noise_power = w.mean();
        out.snr_db = std::numeric_limits<double>::quiet_NaN();
        return out;
    }
    if (freqs_hz.size() != static_cast<std::size_t>(k))
        throw std::invalid_argument(std::to_string(freqs_hz.size()) +
                                    " subcarrier frequencies for " + std::to_string(k) +
                                    " CFR columns");
    const double df = uniform_step(freqs_hz);
    const int p = d_smoothing ? d_smoothing : default_smoothing(m, k);
    if (!(2 <= p && p <= k - 1))
        throw std::invalid_argument("smoothing factor must be in [2, K-1] = [2, " +
                                    std::to_string(k - 1) + "], got " +
                                    std::to_string(p));
    const int limit = std::min(p * (m - 1), (p - 1) * m);
    if (order > limit)
        throw std::invalid_argument(
            "order " + std::to_string(order) + " is too large: 2D-ESPRIT with M=" +
            std::to_string(m) + ", P=" + std::to_string(p) + " resolves at most " +
            std::to_string(limit) + " paths");
    const int d = order;

    // stacked covariance (doa.stacked_covariance): block (f1, f2) = sum over s and the
    // n = K - P + 1 windows of h_{s, i+f1} h_{s, i+f2}^H, from running sums per lag
    const int mp = m * p, n = k - p + 1;
    Mat c = Mat::Zero(mp, mp);
    std::vector<cplx> q(static_cast<std::size_t>(k + 1) * m * m);
    for (int lag = 0; lag < p; lag++) {
        std::fill(q.begin(), q.begin() + m * m, cplx(0.0, 0.0));
        for (int kk = 0; kk + lag < k; kk++) {
            cplx* qn = &q[static_cast<std::size_t>(kk + 1) * m * m];
            const cplx* qp = &q[static_cast<std::size_t>(kk) * m * m];
            for (int a = 0; a < m; a++)
                for (int b = 0; b < m; b++) {
                    cplx acc(0.0, 0.0);
                    for (int ss = 0; ss < s; ss++)
                        acc +=
                            x(a, static_cast<Eigen::Index>(ss) * k + kk) *
                            std::conj(x(b, static_cast<Eigen::Index>(ss) * k + kk + lag));
                    qn[a * m + b] = qp[a * m + b] + acc;
                }
        }
        for (int f1 = 0; f1 + lag < p; f1++) {
            const int f2 = f1 + lag;
            const cplx* hi = &q[static_cast<std::size_t>(f1 + n) * m * m];
            const cplx* lo = &q[static_cast<std::size_t>(f1) * m * m];
            for (int a = 0; a < m; a++)
                for (int b = 0; b < m; b++) {
                    const cplx blk = hi[a * m + b] - lo[a * m + b];
                    c(f1 * m + a, f2 * m + b) = blk;
                    if (lag)
                        c(f2 * m + b, f1 * m + a) = std::conj(blk);
                }
        }
    }
    c /= static_cast<double>(n) * s;
    {
        const Mat cr = c.reverse(); // both directions: rows and columns reversed
        c = 0.5 * (c + cr.conjugate());
    }
    const Mat us = top_eigenvectors(c, d);
    // selection: antenna shift inside every frequency block, frequency shift of blocks
    Mat a1(p * (m - 1), d), a2(p * (m - 1), d), t1((p - 1) * m, d), t2((p - 1) * m, d);
    for (int f = 0; f < p; f++)
        for (int a = 0; a + 1 < m; a++) {
            a1.row(f * (m - 1) + a) = us.row(f * m + a);
            a2.row(f * (m - 1) + a) = us.row(f * m + a + 1);
        }
    for (int f = 0; f + 1 < p; f++)
        for (int a = 0; a < m; a++) {
            t1.row(f * m + a) = us.row(f * m + a);
            t2.row(f * m + a) = us.row((f + 1) * m + a);
        }
    const Mat psi_a = rotation(a1, a2, d_tls);
    const Mat psi_t = rotation(t1, t2, d_tls);
    // joint diagonalisation: eigenvectors of a generic combination diagonalise both
    Eigen::ComplexEigenSolver<Mat> ce(psi_a + cplx(0.7548776662, 0.5698402910) * psi_t);
    const Mat t = ce.eigenvectors();
    const Mat tinv = t.inverse();
    const Mat da = tinv * psi_a * t, dt = tinv * psi_t * t;
    std::vector<double> aoa(d), delay(d);
    for (int j = 0; j < d; j++) {
        aoa[j] = phase_to_deg(std::arg(da(j, j)), d_spacing);
        delay[j] = -std::arg(dt(j, j)) / (2.0 * kPi * df);
    }
    // least-squares path powers on the CFR (doa.path_powers_cfr)
    std::vector<double> power(d);
    {
        const Mat av = steering(m, d_spacing, aoa);
        Mat basis(static_cast<Eigen::Index>(m) * k, d);
        for (int a = 0; a < m; a++)
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < d; j++)
                    basis(a * k + kk, j) =
                        av(a, j) *
                        std::exp(cplx(
                            0.0, -2.0 * kPi * (freqs_hz[kk] - freqs_hz[0]) * delay[j]));
        Mat y(static_cast<Eigen::Index>(m) * k, s);
        for (int a = 0; a < m; a++)
            for (int kk = 0; kk < k; kk++)
                for (int ss = 0; ss < s; ss++)
                    y(a * k + kk, ss) = x(a, static_cast<Eigen::Index>(ss) * k + kk);
        Eigen::JacobiSVD<Mat> svd(basis, Eigen::ComputeThinU | Eigen::ComputeThinV);
        svd.setThreshold(std::numeric_limits<double>::epsilon() *
                         static_cast<double>(std::max<Eigen::Index>(basis.rows(), d)));
        const Mat g = svd.solve(y);
        for (int j = 0; j < d; j++)
            power[j] = g.row(j).cwiseAbs2().mean();
    }
    // strongest first, then the field of view (both as estimation.doa)
    std::vector<std::size_t> idx(d);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        return power[a] < power[b];
    });
    std::reverse(idx.begin(), idx.end());
    double total = 0.0;
    for (std::size_t i : idx) {
        if (!(aoa[i] >= d_fov_min && aoa[i] <= d_fov_max))
            continue;
        out.aoa_deg.push_back(aoa[i]);
        out.delay_s.push_back(delay[i]);
        out.power.push_back(power[i]);
        total += power[i];
    }
    const double sigma2 = noise_power(w, d);
    out.noise_power = sigma2;
    out.snr_db = (sigma2 > 0.0 && total > 0.0) ? 10.0 * std::log10(total / sigma2)
                                               : std::numeric_limits<double>::infinity();
    const std::size_t np = out.aoa_deg.size();
    if (np > 0 && sigma2 > 0.0 && np < static_cast<std::size_t>(m)) {
        bool inside = true;
        for (double a : out.aoa_deg)
            inside = inside && std::abs(a) < 90.0;
        if (inside) {
            Mat pm =
                Mat::Zero(static_cast<Eigen::Index>(np), static_cast<Eigen::Index>(np));
            for (std::size_t i = 0; i < np; i++)
                pm(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)) =
                    out.power[i] / sigma2;
            out.crb_deg = crb_stochastic(out.aoa_deg, n_snap, m, d_spacing, pm);
        }
    }
    return out;
}

} // namespace srsaoa
} // namespace gr
