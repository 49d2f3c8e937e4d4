"""Run a message block to completion in a real flowgraph, deterministically (shared by tests)."""

from __future__ import annotations

from typing import Any

import pmt
from gnuradio import blocks, gr
from gnuradio.srsaoa import constants as K
from gnuradio.srsaoa.blocks.pdu import parse_pdu


def run_until_done(
    blk: Any, msgs: list[Any], in_port: str = K.PORT_CFR, out_port: str = K.PORT_ESTIMATE
) -> list[dict]:
    """Post ``msgs`` to ``blk``'s ``in_port``, then the system "done" message: GNU Radio
    finishes the block once it has handled everything queued before it, so the flowgraph
    ends by itself (no waiting on a clock). Returns the meta of every PDU on ``out_port``."""
    tb = gr.top_block()
    dbg = blocks.message_debug()
    tb.msg_connect((blk, out_port), (dbg, "store"))
    tb.start()
    for m in msgs:
        blk.to_basic_block()._post(pmt.intern(in_port), m)
    blk.to_basic_block()._post(pmt.intern("system"), pmt.cons(pmt.intern("done"), pmt.from_long(1)))
    tb.wait()
    return [parse_pdu(dbg.get_message(i))[0] for i in range(dbg.num_messages())]
