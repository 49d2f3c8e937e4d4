/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <gnuradio/srsaoa/scg_kernel.h>
#include <stdexcept>

namespace py = pybind11;

// A module of its own, with no GNU Radio Python types: the plain moddnn package uses it.
PYBIND11_MODULE(srsaoa_kernels, m)
{
    m.doc() = "Numeric C++ kernels of gr-srsaoa without GNU Radio types (scg_kernel.h).";
    using arr = py::array_t<double, py::array::c_style | py::array::forcecast>;
    m.def(
        "scg_solve",
        [](arr a,
           arr b,
           double eps,
           double mu,
           int iterations,
           double tol,
           bool sparsity) {
            if (a.ndim() != 3 || a.shape(1) != a.shape(2))
                throw std::invalid_argument("scg_solve: a must be [branches, n, n]");
            if (b.ndim() != 3 || b.shape(1) != a.shape(0) || b.shape(2) != a.shape(1))
                throw std::invalid_argument("scg_solve: b must be [batch, branches, n]");
            arr eta({ b.shape(0), b.shape(1), b.shape(2) });
            const double* pa = a.data();
            const double* pb = b.data();
            double* pe = eta.mutable_data();
            {
                py::gil_scoped_release release;
                gr::srsaoa::scg_solve(pa,
                                      pb,
                                      pe,
                                      static_cast<std::size_t>(b.shape(0)),
                                      static_cast<std::size_t>(b.shape(1)),
                                      static_cast<std::size_t>(b.shape(2)),
                                      eps,
                                      mu,
                                      iterations,
                                      tol,
                                      sparsity);
            }
            return eta;
        },
        py::arg("a"),
        py::arg("b"),
        py::arg("eps"),
        py::arg("mu"),
        py::arg("iterations"),
        py::arg("tol"),
        py::arg("sparsity"),
        "Algorithm 1 of MoD-DNN on float64 arrays: a = P + lambda I [branches, n, n], "
        "b [batch, branches, n] -> eta [batch, branches, n] (see scg_kernel.h; the twin "
        "is gnuradio.srsaoa.moddnn.scg.scg_solve).");
}
