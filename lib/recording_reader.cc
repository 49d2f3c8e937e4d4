/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <gnuradio/srsaoa/recording_reader.h>
#include <limits>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "recording_reader reads little-endian files straight into memory"
#endif

namespace gr {
namespace srsaoa {

namespace {
// a float's exponent bits all set: Inf or NaN (also with -ffast-math)
inline bool nonfinite(float x)
{
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}
} // namespace

recording_reader::recording_reader(const std::vector<std::string>& files,
                                   int num_channels,
                                   const std::string& datatype,
                                   double scale,
                                   std::uint64_t num_samples)
    : d_m(num_channels), d_ci16(false), d_scale(1.0f), d_n(0), d_nonfinite(0),
      d_first_nonfinite(-1)
{
    if (num_channels < 1)
        throw std::invalid_argument("recording_reader: num_channels must be >= 1, got " +
                                    std::to_string(num_channels));
    if (datatype == "ci16_le")
        d_ci16 = true;
    else if (datatype != "cf32_le")
        throw std::invalid_argument("recording_reader: datatype must be cf32_le or "
                                    "ci16_le, got '" +
                                    datatype + "'");
    if (d_ci16) {
        if (!(scale > 0.0) || !std::isfinite(scale))
            throw std::invalid_argument("recording_reader: ci16 scale must be > 0");
        d_scale = static_cast<float>(scale);
    }
    if (!(files.size() == static_cast<std::size_t>(num_channels) || files.size() == 1))
        throw std::invalid_argument(
            "recording_reader: give one file per channel or one interleaved file, got " +
            std::to_string(files.size()) + " file(s) for " +
            std::to_string(num_channels) + " channels");
    const std::size_t per_file = files.size() == 1 ? static_cast<std::size_t>(d_m) : 1;
    const std::size_t item = (d_ci16 ? 4 : 8) * per_file;
    std::uint64_t shortest = std::numeric_limits<std::uint64_t>::max();
    d_paths = files;
    for (const auto& path : files) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const std::string why = std::strerror(errno);
            for (int f : d_fds)
                ::close(f);
            throw std::runtime_error("cannot open " + path + ": " + why);
        }
        d_fds.push_back(fd);
        struct stat st;
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            for (int f : d_fds)
                ::close(f);
            throw std::runtime_error(path + " is not a regular file");
        }
        shortest = std::min(shortest, static_cast<std::uint64_t>(st.st_size) / item);
#ifdef POSIX_FADV_SEQUENTIAL
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    if (num_samples > shortest) {
        for (int f : d_fds)
            ::close(f);
        d_fds.clear();
        throw std::runtime_error("recording_reader: " + std::to_string(num_samples) +
                                 " samples asked for, the files hold " +
                                 std::to_string(shortest));
    }
    d_n = num_samples ? num_samples : shortest;
}

recording_reader::~recording_reader()
{
    for (int f : d_fds)
        ::close(f);
}

void recording_reader::pread_all(int which,
                                 void* buf,
                                 std::size_t bytes,
                                 std::uint64_t offset)
{
    auto* p = static_cast<char*>(buf);
    while (bytes > 0) {
        const ssize_t got = ::pread(d_fds[which], p, bytes, static_cast<off_t>(offset));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error("cannot read " + d_paths[which] + ": " +
                                     std::strerror(errno));
        }
        if (got == 0)
            throw std::runtime_error(d_paths[which] + " ended early (truncated while "
                                                      "reading?)");
        p += got;
        bytes -= static_cast<std::size_t>(got);
        offset += static_cast<std::uint64_t>(got);
    }
}

std::size_t
recording_reader::read(std::uint64_t start, std::size_t count, cplx* const* out)
{
    if (start >= d_n)
        return 0;
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(count, d_n - start));
    if (n == 0)
        return 0;
    const std::size_t m = static_cast<std::size_t>(d_m);
    if (!interleaved()) {
        for (std::size_t c = 0; c < m; c++) {
            if (!d_ci16) {
                pread_all(static_cast<int>(c), out[c], n * sizeof(cplx), start * 8);
            } else {
                d_stage16.resize(2 * n);
                pread_all(static_cast<int>(c),
                          d_stage16.data(),
                          2 * n * sizeof(std::int16_t),
                          start * 4);
                // times the float reciprocal: bit for bit what numpy's complex64 /
                // float32 division in the twin (io.sigmf.dequantize_ci16) gives
                auto* f = reinterpret_cast<float*>(out[c]);
                const std::int16_t* q = d_stage16.data();
                const float inv = 1.0f / d_scale;
                for (std::size_t j = 0; j < 2 * n; j++)
                    f[j] = static_cast<float>(q[j]) * inv;
            }
        }
        return n;
    }
    if (!d_ci16) {
        d_stage32.resize(n * m);
        pread_all(0, d_stage32.data(), n * m * sizeof(cplx), start * 8 * m);
        for (std::size_t i = 0; i < n; i++)
            for (std::size_t c = 0; c < m; c++)
                out[c][i] = d_stage32[i * m + c];
    } else {
        d_stage16.resize(2 * n * m);
        pread_all(0, d_stage16.data(), 2 * n * m * sizeof(std::int16_t), start * 4 * m);
        const float inv = 1.0f / d_scale;
        for (std::size_t i = 0; i < n; i++)
            for (std::size_t c = 0; c < m; c++) {
                const std::int16_t* iq = &d_stage16[2 * (i * m + c)];
                out[c][i] = cplx(static_cast<float>(iq[0]) * inv,
                                 static_cast<float>(iq[1]) * inv);
            }
    }
    return n;
}

void recording_reader::count_nonfinite(std::uint64_t start,
                                       std::size_t count,
                                       const cplx* const* out)
{
    if (d_ci16)
        return; // integers are always finite
    const std::size_t m = static_cast<std::size_t>(d_m);
    // fast path: one vectorisable pass per channel finds whether anything is non-finite
    bool any = false;
    for (std::size_t c = 0; c < m; c++) {
        const auto* f = reinterpret_cast<const float*>(out[c]);
        std::uint32_t hit = 0;
        for (std::size_t i = 0; i < 2 * count; i++) {
            std::uint32_t u;
            std::memcpy(&u, f + i, sizeof u);
            hit |= static_cast<std::uint32_t>((u & 0x7f800000u) == 0x7f800000u);
        }
        any = any || hit != 0;
    }
    if (!any)
        return;
    for (std::size_t i = 0; i < count; i++) {
        bool bad = false;
        for (std::size_t c = 0; c < m && !bad; c++)
            bad = nonfinite(out[c][i].real()) || nonfinite(out[c][i].imag());
        if (bad) {
            if (d_first_nonfinite < 0)
                d_first_nonfinite = static_cast<std::int64_t>(start + i);
            d_nonfinite++;
        }
    }
}

} // namespace srsaoa
} // namespace gr
