/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_covariance_kernel(py::module& m);
void bind_covariance_accumulator(py::module& m);
void bind_srs_sync_kernel(py::module& m);
void bind_cfr_kernel(py::module& m);
void bind_srs_sync_core(py::module& m);
void bind_cfr_extractor_core(py::module& m);
void bind_recording_reader(py::module& m);
void bind_recording_source(py::module& m);
void bind_esprit_kernel(py::module& m);
void bind_esprit_estimator(py::module& m);
void bind_esprit2d_kernel(py::module& m);

PYBIND11_MODULE(srsaoa_python, m)
{
    // The GNU Radio runtime types (basic_block, block) must be known to pybind first.
    py::module::import("gnuradio.gr");

    bind_covariance_kernel(m);
    bind_covariance_accumulator(m);
    bind_srs_sync_kernel(m);
    bind_cfr_kernel(m);
    bind_srs_sync_core(m);
    bind_cfr_extractor_core(m);
    bind_recording_reader(m);
    bind_recording_source(m);
    bind_esprit_kernel(m);
    bind_esprit_estimator(m);
    bind_esprit2d_kernel(m);
}
