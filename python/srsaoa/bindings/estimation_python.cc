/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/srsaoa/esprit_estimator.h>
#include <gnuradio/srsaoa/esprit_kernel.h>

namespace py = pybind11;
using gr::srsaoa::esprit2d_estimate;
using gr::srsaoa::esprit2d_kernel;
using gr::srsaoa::esprit_estimate;
using gr::srsaoa::esprit_estimator;
using gr::srsaoa::esprit_kernel;
using rarray =
    py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;

namespace {
std::vector<std::complex<double>> square(const rarray& r, int& m)
{
    if (r.ndim() != 2 || r.shape(0) != r.shape(1))
        throw std::invalid_argument("covariance must be a square M x M matrix");
    m = static_cast<int>(r.shape(0));
    return std::vector<std::complex<double>>(r.data(), r.data() + r.size());
}
} // namespace

void bind_esprit_kernel(py::module& m)
{
    py::class_<esprit_estimate>(m, "esprit_estimate", "One ESPRIT estimate.")
        .def_readonly("order", &esprit_estimate::order)
        .def_readonly("aoa_deg", &esprit_estimate::aoa_deg)
        .def_readonly("power", &esprit_estimate::power)
        .def_readonly("crb_deg", &esprit_estimate::crb_deg)
        .def_readonly("noise_power", &esprit_estimate::noise_power)
        .def_readonly("snr_db", &esprit_estimate::snr_db);

    py::class_<esprit_kernel>(
        m, "esprit_kernel", "C++ AIC/MDL + ESPRIT kernel (see esprit_kernel.h).")
        .def(py::init<double, bool, double, double>(),
             py::arg("spacing_wavelengths"),
             py::arg("tls") = true,
             py::arg("fov_min_deg") = -90.0,
             py::arg("fov_max_deg") = 90.0)
        .def_static(
            "estimate_order",
            [](const rarray& r, double n, bool mdl, bool guard) {
                int mm = 0;
                auto v = square(r, mm);
                return esprit_kernel::estimate_order(v, mm, n, mdl, guard);
            },
            py::arg("r"),
            py::arg("n_snapshots"),
            py::arg("mdl") = false,
            py::arg("guard") = true)
        .def(
            "estimate",
            [](esprit_kernel& self, const rarray& r, int order, double n) {
                int mm = 0;
                auto v = square(r, mm);
                return self.estimate(v, mm, order, n);
            },
            py::arg("r"),
            py::arg("order"),
            py::arg("n_snapshots") = -1.0);
}

void bind_esprit2d_kernel(py::module& m)
{
    py::class_<esprit2d_estimate>(m, "esprit2d_estimate", "One 2D-ESPRIT estimate.")
        .def_readonly("order", &esprit2d_estimate::order)
        .def_readonly("aoa_deg", &esprit2d_estimate::aoa_deg)
        .def_readonly("delay_s", &esprit2d_estimate::delay_s)
        .def_readonly("power", &esprit2d_estimate::power)
        .def_readonly("crb_deg", &esprit2d_estimate::crb_deg)
        .def_readonly("noise_power", &esprit2d_estimate::noise_power)
        .def_readonly("snr_db", &esprit2d_estimate::snr_db);

    py::class_<esprit2d_kernel>(
        m, "esprit2d_kernel", "C++ joint angle-delay 2D-ESPRIT (see esprit_kernel.h).")
        .def(py::init<double, bool, double, double, int>(),
             py::arg("spacing_wavelengths"),
             py::arg("tls") = true,
             py::arg("fov_min_deg") = -90.0,
             py::arg("fov_max_deg") = 90.0,
             py::arg("smoothing") = 0)
        .def(
            "estimate",
            [](const esprit2d_kernel& self,
               py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>
                   h,
               const std::vector<double>& freqs_hz,
               int order,
               bool mdl) {
                if (h.ndim() != 3)
                    throw std::invalid_argument("CFR must be a 3-D array [M, S, K]");
                const auto mm = static_cast<int>(h.shape(0));
                const auto ss = static_cast<int>(h.shape(1));
                const auto kk = static_cast<int>(h.shape(2));
                const std::complex<float>* data = h.data();
                py::gil_scoped_release release; // the estimate runs beside Python threads
                return self.estimate(data, mm, ss, kk, freqs_hz, order, mdl);
            },
            py::arg("cfr"),
            py::arg("subcarrier_hz"),
            py::arg("order"),
            py::arg("mdl") = false,
            "2D-ESPRIT on H [M, S, K]; order -1 = AIC (MDL with mdl) on the spatial "
            "covariance.")
        .def_static("default_smoothing", &esprit2d_kernel::default_smoothing);
}

void bind_esprit_estimator(py::module& m)
{
    py::class_<esprit_estimator,
               gr::block,
               gr::basic_block,
               std::shared_ptr<esprit_estimator>>(
        m,
        "esprit_estimator",
        "AIC/MDL order and ESPRIT on covariance PDUs (see esprit_estimator.h).")
        .def(py::init(&esprit_estimator::make),
             py::arg("spacing_wavelengths") = 0.5,
             py::arg("order") = 0,
             py::arg("order_method") = "aic",
             py::arg("max_order") = 0,
             py::arg("tls") = true,
             py::arg("fov_min_deg") = -90.0,
             py::arg("fov_max_deg") = 90.0,
             py::arg("max_queue") = 0)
        .def("num_estimates", &esprit_estimator::num_estimates)
        .def("num_skipped", &esprit_estimator::num_skipped)
        .def("num_dropped", &esprit_estimator::num_dropped)
        .def("set_max_queue", &esprit_estimator::set_max_queue);
}
