/* -*- c++ -*- */
/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_QUEUE_BOUND_H
#define INCLUDED_SRSAOA_QUEUE_BOUND_H

#include <atomic>
#include <cstdint>
#include <gnuradio/basic_block.h>
#include <gnuradio/logger.h>
#include <string>

namespace gr {
namespace srsaoa {

/*!
 * \brief Load shedding on a message input port (docs/performance.md).
 *
 * GNU Radio 3.10 bounds only the queues of ports without a handler (max_messages);
 * a port with a handler grows without limit when its block falls behind. Called at the
 * start of the handler, shed() keeps at most \p max_queue messages waiting: when
 * max_queue or more are queued behind the current one, the current one and the oldest
 * queued ones are dropped and counted (one warning per burst, an info line when the
 * burst ends). \p max_queue 0 never drops (a recording, where the source is held back
 * by credits instead).
 */
class queue_bound
{
public:
    queue_bound(int max_queue, const char* what) : d_max(max_queue), d_what(what) {}

    void set_max_queue(int max_queue)
    {
        d_max = max_queue;
    }
    int max_queue() const
    {
        return d_max;
    }
    std::uint64_t dropped() const
    {
        return d_dropped.load();
    }

    //! True: drop the current message (the oldest ones queued went too).
    bool shed(gr::basic_block* block, const pmt::pmt_t& port, const gr::logger_ptr& log)
    {
        const int max = d_max;
        if (max <= 0 || block->nmsgs(port) < static_cast<std::size_t>(max)) {
            if (d_burst > 0) {
                log->info("caught up: {} {} dropped in that burst, {} in all",
                          d_burst,
                          d_what,
                          d_dropped.load());
                d_burst = 0;
            }
            return false;
        }
        std::uint64_t n = 1; // the current one
        while (block->nmsgs(port) >= static_cast<std::size_t>(max)) {
            if (!block->delete_head_nowait(port))
                break;
            n++;
        }
        if (d_burst == 0)
            log->warn("falling behind: dropping the oldest {} (at most {} queued; {} "
                      "dropped before this burst)",
                      d_what,
                      max,
                      d_dropped.load());
        d_burst += n;
        d_dropped += n;
        return true;
    }

private:
    int d_max;
    const char* d_what;
    std::atomic<std::uint64_t> d_dropped{ 0 };
    std::uint64_t d_burst = 0;
};

} // namespace srsaoa
} // namespace gr

#endif /* INCLUDED_SRSAOA_QUEUE_BOUND_H */
