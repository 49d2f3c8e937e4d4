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

namespace gr {
namespace srsaoa {

namespace {
using cplx = std::complex<double>;
using Mat = Eigen::MatrixXcd;
using RVec = Eigen::VectorXd;

constexpr double kPi = 3.14159265358979323846;
constexpr double kEigFloor = 1e-12;    // order.py _EIG_FLOOR
constexpr double kGuardFactor = 2.0;   // order.py GUARD_FACTOR
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

int guard_order(const RVec& lam, int order, double n)
{
    const double m = static_cast<double>(lam.size());
    const double edge = std::pow(1.0 + std::sqrt(m / n), 2);
    int k = order;
    while (k > 0 && lam(k - 1) < kGuardFactor * edge * lam.tail(lam.size() - k).mean())
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
    const Mat e1 = esig.topRows(m - 1), e2 = esig.bottomRows(m - 1);
    Mat psi;
    if (!d_tls) {
        const Mat g = e1.adjoint() * e1;
        Eigen::FullPivLU<Mat> lu(g);
        if (!lu.isInvertible())
            throw std::runtime_error("singular matrix in ESPRIT");
        psi = lu.solve(e1.adjoint() * e2);
    } else {
        Mat e(m - 1, 2 * d);
        e << e1, e2;
        Eigen::SelfAdjointEigenSolver<Mat> tls(e.adjoint() * e);
        Mat v(2 * d, 2 * d); // eigenvectors, descending eigenvalues
        for (int k = 0; k < 2 * d; k++)
            v.col(k) = tls.eigenvectors().col(2 * d - 1 - k);
        const Mat v12 = v.block(0, d, d, d), v22 = v.block(d, d, d, d);
        Eigen::FullPivLU<Mat> lu(v22);
        if (!lu.isInvertible())
            throw std::runtime_error("singular matrix in ESPRIT");
        psi = -v12 * lu.inverse();
    }
    Eigen::ComplexEigenSolver<Mat> ce(psi, false);
    std::vector<double> aoa;
    for (int k = 0; k < d; k++) {
        const double ph = std::arg(ce.eigenvalues()(k));
        const double sn = std::min(std::max(ph / (2.0 * kPi * d_spacing), -1.0), 1.0);
        const double a = std::asin(sn) * 180.0 / kPi;
        if (a >= d_fov_min && a <= d_fov_max)
            aoa.push_back(a);
    }
    // noise power: mean of the M - d smallest eigenvalues (0 at rounding level)
    double sigma2 = 0.0;
    if (d < m) {
        sigma2 = w.tail(m - d).mean();
        if (!(sigma2 > 1e-12 * std::abs(w(0))))
            sigma2 = 0.0;
    }
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

} // namespace srsaoa
} // namespace gr
