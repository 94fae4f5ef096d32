"""A carrier simulator: a seeded model of Chinese couriers behind Kuaidi100- and
17TRACK-compatible HTTP APIs (query, subscribe, register, push callbacks), so the demo, the
integration tests and the load tests exercise the same adapters as production.

- `clock`: accelerated and manual clocks (the simulated "now").
- `profiles`: the parameters as data (carriers, lane bands, stage template, tail, shocks).
- `model`: `SimWorld`; `plan`: `ParcelPlan` and `ScanEvent` (all scans, past and future);
  `journey`: how a parcel's journey is planned.
- `geo`, `texts`, `codes`: the map, the Chinese scan texts, the two APIs' status codes.
- `wire`: the Kuaidi100 and 17TRACK bodies built from a plan (pure functions).
- `server`: `create_app(...)`, the Starlette app with both APIs, faults (`faults`) and the
  `/_sim/*` admin endpoints; `push` sends the callbacks, `state` is what the app remembers.
- `runner`: `serve(...)` (blocking, for `parcelwatch sim`) and `start_in_thread(...)`.

Nothing here imports `monitor`: the small geography the model needs lives in `sim.geo`.
"""

from __future__ import annotations

from carriers.sim.clock import AcceleratedClock, ManualClock, SimClock
from carriers.sim.faults import Faults
from carriers.sim.model import ParcelPlan, ScanEvent, SimWorld
from carriers.sim.profiles import (
    DEFAULT_PROFILES,
    DEFAULT_SHOCKS,
    CarrierProfile,
    HubHold,
    Shock,
)

__all__ = [
    "DEFAULT_PROFILES",
    "DEFAULT_SHOCKS",
    "AcceleratedClock",
    "CarrierProfile",
    "Faults",
    "HubHold",
    "ManualClock",
    "ParcelPlan",
    "ScanEvent",
    "Shock",
    "SimClock",
    "SimWorld",
]
