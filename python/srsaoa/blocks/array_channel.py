"""array_channel: the UE waveform through the simulated multipath channel into an M-element
array, with impairments, CFO and noise (the streaming form of gnuradio.srsaoa.sim)."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
from gnuradio import gr

from ..array.geometry import ULA
from ..array.impairments import ImpairmentProfile, profile_from_spec
from ..sim.channel import DEFAULT_HALF_LENGTH, SCATTER_KEY, ArrayChannel, Path
from ._renamed import renamed_parameters


def _parse_channel(channel: Any) -> dict | None:
    """'' / None: no standard channel; a model name ("UMi", "CDL-C"); a JSON object or dict
    (docs/channels.md)."""
    from ..sim.standard import check_spec

    if channel is None or channel == "" or channel == {}:
        return None
    if isinstance(channel, str):
        text = channel.strip()
        if text.startswith("{"):
            try:
                channel = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"channel is not valid JSON: {exc.msg}") from None
        else:
            channel = {"model": text}
    return check_spec(channel)


def _parse_paths(extra_paths: Any) -> list[Path]:
    if extra_paths is None or extra_paths == "":
        return []
    if isinstance(extra_paths, str):
        try:
            extra_paths = json.loads(extra_paths)
        except json.JSONDecodeError as exc:
            raise ValueError(f"extra_paths is not valid JSON: {exc.msg}") from None
    if not isinstance(extra_paths, (list, tuple)):
        raise ValueError("extra_paths must be a list of paths")
    out = []
    for i, p in enumerate(extra_paths):
        if isinstance(p, dict):
            unknown = set(p) - {"aoa_deg", "delay_s", "power_db", "phase_rad"}
            if unknown or "aoa_deg" not in p:
                raise ValueError(
                    f"extra_paths[{i}] needs aoa_deg (and optional delay_s, power_db, "
                    f"phase_rad), got keys {sorted(p)}"
                )
            out.append(
                Path(
                    p["aoa_deg"],
                    p.get("delay_s", 0.0),
                    p.get("power_db", 0.0),
                    p.get("phase_rad", 0.0),
                )
            )
        elif isinstance(p, (list, tuple)) and 1 <= len(p) <= 4:
            out.append(Path(*[float(v) for v in p]))
        else:
            raise ValueError(
                f"extra_paths[{i}] must be a dict or (aoa_deg, delay_s, power_db, phase_rad)"
            )
    return out


class array_channel(gr.basic_block):  # noqa: N801 - GNU Radio block naming
    """One UE stream in, M array-element streams out: paths (AoA, delay, power, phase),
    hardware impairments, carrier frequency offset and white noise at a per-RE SNR
    (DESIGN section 3), exactly the model of ``sim.simulate`` (``sim.ArrayChannel``).

    Output sample n is the received signal at the time of input sample n (the block hides the
    D = filter_half_length + 1 samples of latency of its fractional-delay filters, so it
    withholds the last D samples until more input arrives). Tags are passed through
    unchanged. AoA (of the LOS path), SNR and CFO are settable at run time; new values apply
    from the next work call, the CFO phase stays continuous.
    """

    @renamed_parameters(num_elements="num_channels")
    def __init__(
        self,
        num_channels: int = 4,
        spacing_m: float = 0.0,
        carrier_frequency_hz: float = 3.5e9,
        sample_rate: float = 30.72e6,
        aoa_deg: float = 0.0,
        snr_db: float = 20.0,
        cfo_hz: float = 0.0,
        los_phase_rad: float = 0.0,
        extra_paths: Any = (),
        impairments: str = "ideal",
        rho: float = 1.0,
        noise: bool = True,
        seed: int = 0,
        signal_power_per_re: float = 1.0,
        filter_half_length: int = DEFAULT_HALF_LENGTH,
        channel: Any = "",
    ) -> None:
        if isinstance(num_channels, bool) or int(num_channels) != num_channels or num_channels < 2:
            raise ValueError(f"num_channels must be an integer >= 2, got {num_channels!r}")
        for name, v in (
            ("spacing_m", spacing_m),
            ("carrier_frequency_hz", carrier_frequency_hz),
            ("sample_rate", sample_rate),
            ("aoa_deg", aoa_deg),
            ("snr_db", snr_db),
            ("cfo_hz", cfo_hz),
            ("los_phase_rad", los_phase_rad),
            ("rho", rho),
            ("signal_power_per_re", signal_power_per_re),
        ):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
                raise ValueError(f"{name} must be a real number, got {v!r}")
            if not np.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v!r}")
        if spacing_m < 0:
            raise ValueError(f"spacing_m must be >= 0 (0 = half a wavelength), got {spacing_m}")
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho}")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if not isinstance(impairments, (str, ImpairmentProfile, dict)):
            raise ValueError("impairments must be 'ideal', 'default' or a profile JSON path")
        ula = ULA(
            num_elements=int(num_channels),
            spacing_m=None if spacing_m == 0 else float(spacing_m),
            carrier_frequency_hz=float(carrier_frequency_hz),
        )
        if isinstance(impairments, ImpairmentProfile):
            profile = impairments
        else:
            try:
                profile = profile_from_spec(impairments, ula.num_elements, ula.spacing_wavelengths)
            except OSError as exc:
                raise ValueError(f"impairments: cannot read {impairments!r}: {exc}") from None
            if impairments == "default":
                profile = profile.with_rho(float(rho))
        paths = [Path(aoa_deg, 0.0, 0.0, los_phase_rad), *_parse_paths(extra_paths)]
        self._spec = _parse_channel(channel)
        self._seed = int(seed)
        self._ula = ula
        self._doppler = None
        self._t_paths = 0.0
        self._sample_rate = float(sample_rate)
        reference_power = None
        if self._spec is not None:
            if len(paths) > 1:
                raise ValueError("give either extra_paths or a standard channel, not both")
            paths = self._draw_paths(float(aoa_deg))
            reference_power = 1.0  # the draw's ray powers sum to 1
        self._chan = ArrayChannel(
            ula,
            profile,
            paths,
            float(sample_rate),
            float(snr_db) if noise else None,
            float(cfo_hz),
            seed=int(seed),
            signal_power_per_re=float(signal_power_per_re),
            half_length=int(filter_half_length),
            reference_power=reference_power,
        )
        gr.basic_block.__init__(
            self,
            name="array_channel",
            in_sig=[np.complex64],
            out_sig=[np.complex64] * ula.num_elements,
        )
        self._lock = threading.Lock()
        self._noise = bool(noise)
        self.logger.info(
            f"{ula.num_elements}-element ULA, d = {ula.spacing_m * 1e3:.2f} mm at "
            f"{ula.carrier_frequency_hz / 1e9:g} GHz, impairments {profile.name!r} "
            f"(rho {profile.rho:g}), {len(paths)} path(s)"
            + ("" if self._spec is None else f" ({self._spec['model']})")
            + ", latency hidden: "
            f"{self._chan.delay} samples"
        )

    def _draw_paths(self, aoa_deg: float) -> list[Path]:
        """The standard channel's paths with the UE at ``aoa_deg``: the draw of
        ``Scenario.channel_draw`` for this seed (redrawn with the same random numbers when the
        angle changes, so the clusters follow the UE)."""
        from ..sim.standard import draw_from_spec, spec_doppler

        rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(SCATTER_KEY, 0)))
        self._draw = draw_from_spec(self._spec, rng, aoa_deg, self._ula.carrier_frequency_hz)
        self._doppler = spec_doppler(self._spec, self._draw, self._ula.carrier_frequency_hz)
        return self._paths_at(0.0)

    def _paths_at(self, t_s: float) -> list[Path]:
        self._t_paths = t_s
        return self._draw.paths(
            self._spec.get("element_pattern", "3gpp"),
            float(self._spec.get("tilt_deg") or 0.0),
            t_s,
            self._doppler,
        )

    @classmethod
    def from_scenario(cls, scenario: Any) -> array_channel:
        """The block that reproduces ``sim.simulate(scenario)`` when fed
        ``sim.transmit_stream(scenario)`` (static scenarios: no trajectory, no Rician; a
        standard ``channel`` without UE motion or per-occasion redraws)."""
        from ..sim import Scenario, srs_re_power

        sc = scenario if isinstance(scenario, Scenario) else Scenario.from_dict(scenario)
        if sc.trajectory is not None or sc.rician is not None:
            raise ValueError("array_channel.from_scenario needs a static scenario")
        ula = sc.ula()
        paths = sc.path_list()
        blk = cls(
            num_channels=ula.num_elements,
            spacing_m=float(ula.spacing_m),
            carrier_frequency_hz=ula.carrier_frequency_hz,
            sample_rate=float(sc.carrier_config().sample_rate),
            aoa_deg=paths[0].aoa_deg,
            snr_db=0.0 if sc.snr_db is None else float(sc.snr_db),
            cfo_hz=float(sc.cfo_hz),
            los_phase_rad=paths[0].phase_rad,
            extra_paths=[p.to_dict() for p in paths[1:]],
            impairments=sc.profile(ula),
            noise=sc.snr_db is not None,
            seed=int(sc.seed),
            signal_power_per_re=srs_re_power(sc.carrier_config(), sc.srs_config()),
            filter_half_length=int(sc.filter_half_length),
            channel=sc.channel or "",
        )
        if sc.channel is not None:
            return blk
        if paths[0].delay_s != 0 or paths[0].power_db != 0:
            blk._chan.set_paths(paths)
        return blk

    # ------------------------------------------------------------------ run-time settings
    def set_aoa_deg(self, aoa_deg: float) -> None:
        """AoA of the LOS path in degrees (DESIGN section 3 sign)."""
        with self._lock:
            if self._spec is not None:
                self._chan.set_paths(self._draw_paths(float(aoa_deg)))
            else:
                self._chan.set_aoa_deg(float(aoa_deg))

    def set_snr_db(self, snr_db: float) -> None:
        """Per-element, per-RE SNR in dB."""
        with self._lock:
            self._chan.set_snr_db(float(snr_db) if self._noise else None)

    def set_cfo_hz(self, cfo_hz: float) -> None:
        """Carrier frequency offset in Hz."""
        with self._lock:
            self._chan.set_cfo_hz(float(cfo_hz))

    def latency(self) -> int:
        """Samples of delay the block hides (append that many zeros to flush a stream)."""
        with self._lock:
            return self._chan.delay

    def noise_variance(self) -> float:
        """Noise variance per sample and channel now (follows set_snr_db)."""
        with self._lock:
            return self._chan.noise_variance

    # ------------------------------------------------------------------ streaming
    def forecast(self, noutput_items, ninputs):  # noqa: D401 - GNU Radio API
        return [noutput_items] * ninputs

    def general_work(self, input_items, output_items):
        x = input_items[0]
        n = min(len(x), len(output_items[0]))
        if n == 0:
            return 0
        with self._lock:
            if self._doppler is not None:  # UE motion: rays advanced every 0.5 ms of samples
                t = self._chan.samples_out / self._sample_rate
                if t - self._t_paths >= 0.5e-3:
                    self._chan.set_paths(self._paths_at(t))
            y = self._chan.process(x[:n])
        k = y.shape[1]
        for m, out in enumerate(output_items):
            out[:k] = y[m]
        self.consume(0, n)
        return k
