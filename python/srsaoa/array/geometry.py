"""Uniform linear array geometry and steering vectors (DESIGN section 3).

Element m (0-based) sits at x_m = m*d on the array axis; element 0 is the phase
reference. theta is in degrees from broadside, positive towards increasing element
index, and a_m(theta) = exp(+j 2 pi (x_m / lambda) sin(theta)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class ULA:
    """Uniform linear array: ``num_elements`` elements ``spacing_m`` apart at ``carrier_frequency_hz``."""

    num_elements: int = 4
    spacing_m: float | None = None
    carrier_frequency_hz: float = 3.5e9

    def __post_init__(self) -> None:
        if int(self.num_elements) != self.num_elements or self.num_elements < 2:
            raise ValueError(f"num_elements must be an integer >= 2, got {self.num_elements}")
        if not (self.carrier_frequency_hz > 0 and np.isfinite(self.carrier_frequency_hz)):
            raise ValueError(f"carrier_frequency_hz must be > 0, got {self.carrier_frequency_hz}")
        if self.spacing_m is None:
            object.__setattr__(self, "spacing_m", self.wavelength_m / 2.0)
        if not (self.spacing_m > 0 and np.isfinite(self.spacing_m)):
            raise ValueError(f"spacing_m must be > 0, got {self.spacing_m}")

    @property
    def wavelength_m(self) -> float:
        return SPEED_OF_LIGHT / self.carrier_frequency_hz

    @property
    def spacing_wavelengths(self) -> float:
        """d / lambda."""
        return float(self.spacing_m) / self.wavelength_m

    @property
    def positions_m(self) -> NDArray[np.float64]:
        return np.arange(self.num_elements) * float(self.spacing_m)

    def steering(self, theta_deg: ArrayLike) -> NDArray[np.complex128]:
        """Steering vectors, shape [M] for a scalar angle or [M, L] for L angles."""
        return steering_vector(self.num_elements, self.spacing_wavelengths, theta_deg)

    def to_dict(self) -> dict:
        """The ``srsaoa:array`` object of DESIGN section 5."""
        return {
            "geometry": "ula",
            "num_elements": int(self.num_elements),
            "spacing_m": float(self.spacing_m),
            "carrier_frequency_hz": float(self.carrier_frequency_hz),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ULA:
        geometry = d.get("geometry", "ula")
        if geometry != "ula":
            raise ValueError(f"array geometry {geometry!r} is not supported (only 'ula')")
        return cls(
            num_elements=int(d["num_elements"]),
            spacing_m=float(d["spacing_m"]) if d.get("spacing_m") is not None else None,
            carrier_frequency_hz=float(d["carrier_frequency_hz"]),
        )


def steering_vector(
    num_elements: int, spacing_wavelengths: float, theta_deg: ArrayLike
) -> NDArray[np.complex128]:
    """a_m(theta) = exp(+j 2 pi m (d/lambda) sin(theta)); [M] or [M, L]."""
    theta = np.deg2rad(np.asarray(theta_deg, dtype=np.float64))
    m = np.arange(num_elements, dtype=np.float64)
    phase = 2.0 * np.pi * spacing_wavelengths * np.multiply.outer(m, np.sin(theta))
    return np.exp(1j * phase)
