/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/srsaoa/covariance_accumulator.h>
#include <gnuradio/srsaoa/covariance_kernel.h>

namespace py = pybind11;
using gr::srsaoa::covariance_accumulator;
using gr::srsaoa::covariance_kernel;

void bind_covariance_kernel(py::module& m)
{
    py::class_<covariance_kernel>(
        m, "covariance_kernel", "C++ covariance kernel (see covariance_kernel.h).")
        .def(py::init<int, bool, double>(),
             py::arg("num_elements"),
             py::arg("forward_backward"),
             py::arg("forgetting"))
        .def(
            "add",
            [](covariance_kernel& self,
               py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>
                   h) {
                if (h.ndim() != 3)
                    throw std::invalid_argument("CFR must be a 3-D array [M, S, K]");
                return self.add(h.data(),
                                static_cast<std::size_t>(h.size()),
                                static_cast<std::size_t>(h.shape(1)),
                                static_cast<std::size_t>(h.shape(2)));
            },
            py::arg("cfr"),
            "Accumulate one CFR [M, S, K]; False if rejected (size or non-finite).")
        .def(
            "read_out",
            [](covariance_kernel& self) {
                auto r = self.read_out();
                const auto m = static_cast<py::ssize_t>(self.num_elements());
                py::array_t<std::complex<float>> out({ m, m });
                std::copy(r.begin(), r.end(), out.mutable_data());
                return out;
            },
            "R as an M x M complex64 array (restarts the sums in block mode).")
        .def("reset", &covariance_kernel::reset)
        .def_property_readonly("num_snapshots", &covariance_kernel::num_snapshots)
        .def_property_readonly("num_occasions", &covariance_kernel::num_occasions)
        .def_property_readonly("num_elements", &covariance_kernel::num_elements)
        .def_property_readonly("forward_backward", &covariance_kernel::forward_backward)
        .def_property_readonly("forgetting", &covariance_kernel::forgetting);
}

void bind_covariance_accumulator(py::module& m)
{
    py::class_<covariance_accumulator,
               gr::block,
               gr::basic_block,
               std::shared_ptr<covariance_accumulator>>(
        m,
        "covariance_accumulator",
        "Spatial covariance matrix from CFR PDUs (see covariance_accumulator.h).")
        .def(py::init(&covariance_accumulator::make),
             py::arg("num_channels"),
             py::arg("n_occasions"),
             py::arg("forward_backward"),
             py::arg("forgetting"),
             "make(num_channels, n_occasions, forward_backward, forgetting)")
        .def(
            "set_max_queue", &covariance_accumulator::set_max_queue, py::arg("max_queue"))
        .def("num_dropped", &covariance_accumulator::num_dropped);
}
