/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/srsaoa/recording_reader.h>
#include <gnuradio/srsaoa/recording_source.h>

namespace py = pybind11;
using gr::srsaoa::recording_reader;
using gr::srsaoa::recording_source;

void bind_recording_reader(py::module& m)
{
    py::class_<recording_reader>(
        m, "recording_reader", "C++ recording file reader (see recording_reader.h).")
        .def(py::init<const std::vector<std::string>&,
                      int,
                      const std::string&,
                      double,
                      std::uint64_t>(),
             py::arg("files"),
             py::arg("num_channels"),
             py::arg("datatype"),
             py::arg("scale"),
             py::arg("num_samples") = 0)
        .def(
            "read",
            [](recording_reader& self, std::uint64_t start, std::size_t count) {
                const auto m = static_cast<py::ssize_t>(self.num_channels());
                py::array_t<std::complex<float>> out(
                    { m, static_cast<py::ssize_t>(count) });
                std::vector<std::complex<float>*> rows(static_cast<std::size_t>(m));
                for (py::ssize_t i = 0; i < m; i++)
                    rows[static_cast<std::size_t>(i)] =
                        out.mutable_data() + i * static_cast<py::ssize_t>(count);
                std::size_t n;
                {
                    py::gil_scoped_release release;
                    n = self.read(start, count, rows.data());
                    self.count_nonfinite(start, n, rows.data());
                }
                return py::array_t<std::complex<float>>(out[py::make_tuple(
                    py::slice(0, m, 1), py::slice(0, static_cast<py::ssize_t>(n), 1))]);
            },
            py::arg("start"),
            py::arg("count"),
            "Samples [M, count] from ``start`` (fewer at the end); also counts the "
            "non-finite ones.")
        .def_property_readonly("num_channels", &recording_reader::num_channels)
        .def_property_readonly("num_samples", &recording_reader::num_samples)
        .def_property_readonly("interleaved", &recording_reader::interleaved)
        .def_property_readonly("num_nonfinite", &recording_reader::num_nonfinite)
        .def_property_readonly("first_nonfinite", &recording_reader::first_nonfinite);
}

void bind_recording_source(py::module& m)
{
    py::class_<recording_source,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<recording_source>>(
        m,
        "recording_source",
        "M complex streams from the files of a recording (see recording_source.h).")
        .def(py::init(&recording_source::make),
             py::arg("files"),
             py::arg("num_channels"),
             py::arg("datatype"),
             py::arg("scale"),
             py::arg("num_samples"),
             py::arg("repeat"),
             py::arg("sample_rate"),
             py::arg("center_frequency"),
             py::arg("has_time"),
             py::arg("time_secs"),
             py::arg("time_frac"),
             py::arg("count_nonfinite"),
             py::arg("capture_starts") = std::vector<std::uint64_t>{},
             py::arg("capture_secs") = std::vector<std::uint64_t>{},
             py::arg("capture_fracs") = std::vector<double>{})
        .def("num_samples", &recording_source::num_samples)
        .def("num_nonfinite", &recording_source::num_nonfinite)
        .def("first_nonfinite", &recording_source::first_nonfinite)
        .def("num_streamed", &recording_source::num_streamed)
        .def("first_pass_done", &recording_source::first_pass_done)
        .def("num_capture_tags", &recording_source::num_capture_tags)
        .def("error", &recording_source::error);
}
