"""nr.srs_stream and the ``srsaoa waveform`` command.

Files are checked against the math (nr.srs_slot_waveform per slot, is_srs_slot) after
undoing the recorded scale; samples are stored as complex64, the scale is a float32
product, so the error is float32 rounding (relative ~1e-7): we allow 1e-6.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from gnuradio.srsaoa import nr
from gnuradio.srsaoa.cli import main


def test_srs_stream_slots_and_zeros():
    carrier = nr.CarrierConfig(n_slot=18, n_frame=4)
    srs = nr.SRSConfig(srs_period=(4, 3))
    wave, starts = nr.srs_stream(carrier, srs, 6)
    # slot count = 80+18 .. 80+23; (count - 3) % 4 == 0 for count 99 and 103 -> t = 1 and 5
    assert starts == [15360, 5 * 15360]
    assert wave.shape == (6 * 15360,) and wave.dtype == np.complex64
    np.testing.assert_array_equal(
        wave[15360 : 2 * 15360], nr.srs_slot_waveform(carrier.advanced(1), srs)
    )
    assert not wave[:15360].any() and not wave[2 * 15360 : 5 * 15360].any()
    with pytest.raises(ValueError, match="num_slots"):
        nr.srs_stream(carrier, srs, 0)


def test_waveform_command_writes_sigmf_and_cfiles(tmp_path, capsys):
    cfg = tmp_path / "srs.yaml"
    cfg.write_text(
        "carrier: {subcarrier_spacing: 30, n_size_grid: 51, n_slot: 1}\n"
        "srs: {c_srs: 12, num_srs_ports: 2, srs_period: [2, 0], group_seq_hopping: groupHopping}\n"
    )
    assert (
        main(
            [
                "waveform",
                "--config",
                str(cfg),
                "--out",
                str(tmp_path / "o" / "ue"),
                "--slots",
                "4",
                "--frequency",
                "3.5e9",
            ]
        )
        == 0
    )
    assert "wrote 61440 samples" in capsys.readouterr().out
    carrier = nr.CarrierConfig(n_slot=1)
    srs = nr.SRSConfig(num_srs_ports=2, srs_period=(2, 0), group_seq_hopping="groupHopping")
    want, starts = nr.srs_stream(carrier, srs, 4)
    assert starts == [15360, 3 * 15360]  # slots 2 and 4

    meta = json.loads((tmp_path / "o" / "ue.sigmf-meta").read_text())
    g = meta["global"]
    data = (tmp_path / "o" / "ue.sigmf-data").read_bytes()
    assert g["core:datatype"] == "cf32_le" and g["core:num_channels"] == 2
    assert g["core:sample_rate"] == 30.72e6
    assert g["core:sha512"] == hashlib.sha512(data).hexdigest()
    assert nr.CarrierConfig.from_dict(g["srsaoa:carrier"]) == carrier
    assert nr.SRSConfig.from_dict(g["srsaoa:srs"]) == srs
    assert meta["captures"][0]["core:frequency"] == 3.5e9
    assert [a["core:sample_start"] for a in meta["annotations"]] == starts
    assert [a["srsaoa:n_slot"] for a in meta["annotations"]] == [2, 4]

    x = np.frombuffer(data, "<c8").reshape(-1, 2)
    scale = g["srsaoa:scale"]
    tol = 1e-6 * np.abs(want).max()
    np.testing.assert_allclose(x / scale, want, rtol=0, atol=tol)
    # default --peak 0.7: the largest |I| or |Q| is 0.7
    assert max(np.abs(x.real).max(), np.abs(x.imag).max()) == pytest.approx(0.7, rel=1e-6)
    for p in range(2):
        c = np.fromfile(tmp_path / "o" / f"ue_port{p}.cfile", dtype=np.complex64)
        np.testing.assert_array_equal(c, x[:, p])


def test_waveform_command_single_port_unscaled(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"srs": {"k_tc": 4}}))
    out = tmp_path / "one"
    assert main(["waveform", "--config", str(cfg), "--out", str(out), "--peak", "0"]) == 0
    c = np.fromfile(tmp_path / "one.cfile", dtype=np.complex64)
    np.testing.assert_array_equal(c, nr.srs_slot_waveform(nr.CarrierConfig(), nr.SRSConfig(k_tc=4)))


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "does not exist"),
        ("srs: {c_srs: 99}\n", "c_srs must be in [0, 63]"),
        ("carrier: {n_size_grid: 24}\n", "does not fit"),
        ("srs: {comb: 2}\n", "unknown SRSConfig"),
        ("srs: [1, 2\n", "not valid YAML"),
    ],
)
def test_waveform_command_errors_are_one_line(tmp_path, capsys, text, message):
    cfg = tmp_path / "bad.yaml"
    if text is not None:
        cfg.write_text(text)
    assert main(["waveform", "--config", str(cfg), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
