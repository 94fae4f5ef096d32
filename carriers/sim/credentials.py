"""The simulator's demo credentials. The simulator speaks Kuaidi100's and 17TRACK's
protocols and accepts these; they grant nothing anywhere else, and are public by design, so
a `sim` account never shares its push verification with a real API account."""

from __future__ import annotations

SIM_CUSTOMER = "PARCELWATCHSIM"
SIM_KEY = "parcelwatch-sim-key"
SIM_SALT = "parcelwatch-sim-salt"
SIM_17TRACK_KEY = "parcelwatch-sim-17token"
DEFAULT_SIM_URL = "http://127.0.0.1:9000"
