/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/srsaoa/cfr_extractor_core.h>
#include <gnuradio/srsaoa/cfr_kernel.h>
#include <gnuradio/srsaoa/srs_sync_core.h>
#include <gnuradio/srsaoa/srs_sync_kernel.h>

namespace py = pybind11;
using gr::srsaoa::cfr_extractor_core;
using gr::srsaoa::cfr_kernel;
using gr::srsaoa::srs_detection;
using gr::srsaoa::srs_sync_core;
using gr::srsaoa::srs_sync_kernel;
using carray =
    py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>;

void bind_srs_sync_kernel(py::module& m)
{
    py::class_<srs_detection>(m, "srs_detection", "One detected SRS slot.")
        .def_readonly("index", &srs_detection::index)
        .def_readonly("frac", &srs_detection::frac)
        .def_readonly("metric", &srs_detection::metric)
        .def_readonly("cfo_hz", &srs_detection::cfo_hz)
        .def_readonly("occasion", &srs_detection::occasion)
        .def("__repr__", [](const srs_detection& d) {
            return "srs_detection(index=" + std::to_string(d.index) +
                   ", frac=" + std::to_string(d.frac) +
                   ", metric=" + std::to_string(d.metric) +
                   ", cfo_hz=" + std::to_string(d.cfo_hz) +
                   ", occasion=" + std::to_string(d.occasion) + ")";
        });

    py::class_<srs_sync_kernel>(
        m, "srs_sync_kernel", "C++ SRS synchroniser kernel (see srs_sync_kernel.h).")
        .def(py::init<const std::vector<std::complex<float>>&,
                      const std::vector<int>&,
                      const std::vector<int>&,
                      int,
                      int,
                      std::int64_t,
                      double,
                      int,
                      int,
                      double,
                      double,
                      const std::vector<std::int64_t>&>(),
             py::arg("reference"),
             py::arg("segment_starts"),
             py::arg("segment_lengths"),
             py::arg("num_channels"),
             py::arg("ref_channel"),
             py::arg("period"),
             py::arg("pfa"),
             py::arg("track_window"),
             py::arg("max_misses"),
             py::arg("sample_rate"),
             py::arg("min_metric") = 0.0,
             py::arg("period_pattern") = std::vector<std::int64_t>{})
        .def(
            "process",
            [](srs_sync_kernel& self, carray x) {
                if (x.ndim() != 2 || x.shape(0) != self.num_channels())
                    throw std::invalid_argument("samples must be a [M, n] array");
                std::vector<const std::complex<float>*> ptrs(self.num_channels());
                for (int c = 0; c < self.num_channels(); c++)
                    ptrs[c] = x.data(c, 0);
                self.process(ptrs.data(), static_cast<std::size_t>(x.shape(1)));
            },
            py::arg("samples"),
            "Append samples [M, n] (complex64) and run the detector.")
        .def("take_detections", &srs_sync_kernel::take_detections)
        .def("restart", &srs_sync_kernel::restart)
        .def("restart_after_gap",
             &srs_sync_kernel::restart_after_gap,
             py::arg("missing_samples"))
        .def("finish", &srs_sync_kernel::finish)
        .def("set_enabled", &srs_sync_kernel::set_enabled)
        .def("metric_at", &srs_sync_kernel::metric_at)
        .def_static("tail_probability", &srs_sync_kernel::tail_probability)
        .def_static("threshold_for", &srs_sync_kernel::threshold_for)
        .def_property_readonly("acquisition_threshold",
                               &srs_sync_kernel::acquisition_threshold)
        .def_property_readonly("tracking_threshold", &srs_sync_kernel::tracking_threshold)
        .def_property_readonly("noise_acquisition_threshold",
                               &srs_sync_kernel::noise_acquisition_threshold)
        .def_property_readonly("noise_tracking_threshold",
                               &srs_sync_kernel::noise_tracking_threshold)
        .def_property_readonly("min_metric", &srs_sync_kernel::min_metric)
        .def_property_readonly("pfa", &srs_sync_kernel::pfa)
        .def_property_readonly("effective_pfa", &srs_sync_kernel::effective_pfa)
        .def_property_readonly("effective_tracking_pfa",
                               &srs_sync_kernel::effective_tracking_pfa)
        .def_property_readonly("missed", &srs_sync_kernel::missed)
        .def_property_readonly("period_pattern", &srs_sync_kernel::period_pattern)
        .def_property_readonly("state", &srs_sync_kernel::state)
        .def_property_readonly("nonfinite_count", &srs_sync_kernel::nonfinite_count)
        .def_property_readonly("lookahead", &srs_sync_kernel::lookahead)
        .def_property_readonly("decided", &srs_sync_kernel::decided)
        .def_property_readonly("fed", &srs_sync_kernel::fed)
        .def_property_readonly("num_channels", &srs_sync_kernel::num_channels);
}

void bind_cfr_kernel(py::module& m)
{
    py::class_<cfr_kernel>(m, "cfr_kernel", "C++ CFR kernel (see cfr_kernel.h).")
        .def(py::init<int,
                      int,
                      const std::vector<int>&,
                      const std::vector<int>&,
                      const std::vector<std::complex<float>>&,
                      const std::vector<int>&,
                      int,
                      double,
                      const std::vector<std::complex<float>>&>(),
             py::arg("num_channels"),
             py::arg("fft_size"),
             py::arg("window_offsets"),
             py::arg("subcarrier_bins"),
             py::arg("sequence"),
             py::arg("noise_bins"),
             py::arg("cp_backoff"),
             py::arg("sample_rate"),
             py::arg("calibration"))
        .def(
            "estimate",
            [](cfr_kernel& self, carray win, double cfo_hz) -> py::object {
                const auto ms = static_cast<py::ssize_t>(self.num_channels());
                const auto ns = static_cast<py::ssize_t>(self.num_symbols());
                const auto nn = static_cast<py::ssize_t>(self.fft_size());
                if (win.size() != ms * ns * nn)
                    throw std::invalid_argument("windows must hold M*S*N samples");
                std::vector<const std::complex<float>*> ptrs(ms);
                for (py::ssize_t c = 0; c < ms; c++)
                    ptrs[c] = win.data() + c * ns * nn;
                const auto nk = static_cast<py::ssize_t>(self.num_subcarriers());
                py::array_t<std::complex<float>> h({ ms, ns, nk });
                double snr = 0.0;
                if (!self.estimate(ptrs.data(), cfo_hz, h.mutable_data(), snr))
                    return py::none();
                return py::make_tuple(h, snr);
            },
            py::arg("windows"),
            py::arg("cfo_hz"),
            "(H [M, S, K], snr_db) from the FFT windows [M, S, N]; None if non-finite.")
        .def("window_start", &cfr_kernel::window_start, py::arg("symbol"))
        .def("set_calibration", &cfr_kernel::set_calibration)
        .def_property_readonly("span_end", &cfr_kernel::span_end)
        .def_property_readonly("num_channels", &cfr_kernel::num_channels)
        .def_property_readonly("fft_size", &cfr_kernel::fft_size)
        .def_property_readonly("num_symbols", &cfr_kernel::num_symbols)
        .def_property_readonly("num_subcarriers", &cfr_kernel::num_subcarriers);
}

void bind_srs_sync_core(py::module& m)
{
    py::class_<srs_sync_core, gr::block, gr::basic_block, std::shared_ptr<srs_sync_core>>(
        m, "srs_sync_core", "SRS slot synchroniser block (see srs_sync_core.h).")
        .def(py::init(&srs_sync_core::make),
             py::arg("num_channels"),
             py::arg("reference"),
             py::arg("segment_starts"),
             py::arg("segment_lengths"),
             py::arg("ref_channel"),
             py::arg("period"),
             py::arg("pfa"),
             py::arg("track_window"),
             py::arg("max_misses"),
             py::arg("sample_rate"),
             py::arg("min_metric") = 0.0,
             py::arg("period_pattern") = std::vector<std::int64_t>{})
        .def("num_detections", &srs_sync_core::num_detections)
        .def("state", &srs_sync_core::state)
        .def("acquisition_threshold", &srs_sync_core::acquisition_threshold)
        .def("tracking_threshold", &srs_sync_core::tracking_threshold)
        .def("noise_acquisition_threshold", &srs_sync_core::noise_acquisition_threshold)
        .def("noise_tracking_threshold", &srs_sync_core::noise_tracking_threshold)
        .def("min_metric", &srs_sync_core::min_metric)
        .def("effective_pfa", &srs_sync_core::effective_pfa)
        .def("num_resyncs", &srs_sync_core::num_resyncs)
        .def("num_missed", &srs_sync_core::num_missed)
        .def("num_gap_samples", &srs_sync_core::num_gap_samples);
}

void bind_cfr_extractor_core(py::module& m)
{
    py::class_<cfr_extractor_core,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<cfr_extractor_core>>(
        m, "cfr_extractor_core", "CFR extractor block (see cfr_extractor_core.h).")
        .def(py::init(&cfr_extractor_core::make),
             py::arg("num_channels"),
             py::arg("fft_size"),
             py::arg("window_offsets"),
             py::arg("subcarriers"),
             py::arg("subcarrier_bins"),
             py::arg("sequence"),
             py::arg("noise_bins"),
             py::arg("cp_backoff"),
             py::arg("scs_hz"),
             py::arg("sample_rate"),
             py::arg("cfo_correction"),
             py::arg("calibration"))
        .def("set_calibration", &cfr_extractor_core::set_calibration)
        .def("set_cfo_correction", &cfr_extractor_core::set_cfo_correction)
        .def("cfo_correction", &cfr_extractor_core::cfo_correction)
        .def("num_cfrs", &cfr_extractor_core::num_cfrs)
        .def("num_dropped", &cfr_extractor_core::num_dropped)
        .def("num_gap_dropped", &cfr_extractor_core::num_gap_dropped)
        .def("num_retunes", &cfr_extractor_core::num_retunes)
        .def("set_flow_control",
             &cfr_extractor_core::set_flow_control,
             py::arg("window"),
             py::arg("consumers"))
        .def("num_in_flight", &cfr_extractor_core::num_in_flight)
        .def("num_held", &cfr_extractor_core::num_held)
        .def("max_in_flight", &cfr_extractor_core::max_in_flight);
}
