"""What the platforms charged the shop for its carriers' lateness in the report week, per
carrier × buyer's province (docs/scorecard.md "Penalty cost"): the charges judged fair and
the carrier's (the number uploaded in time, the pickup scan late), so that a decision to
switch carriers sees the money as well as the ratios."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from monitor.config import Config
from monitor.evidence.penalties import carrier_costs, judge_lines, stored_lines

COLUMNS = ("carrier", "province", "penalty_lines", "penalty_yuan")


def penalty_costs(
    engine: Engine, config: Config, start: datetime, end: datetime, now: datetime
) -> pd.DataFrame:
    """One row per carrier with province None (its national total), then one per carrier ×
    province charged in [start, end), each part the costliest first."""
    judged = judge_lines(engine, config, stored_lines(engine, start, end), now)
    costs = carrier_costs(judged)
    if not costs:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    lanes = pd.DataFrame(
        [(carrier, province, n, yuan) for (carrier, province), (n, yuan) in costs.items()],
        columns=list(COLUMNS),
    )
    national = lanes.groupby("carrier", as_index=False)[["penalty_lines", "penalty_yuan"]].sum()
    national.insert(1, "province", None)
    ordered = [part.sort_values(["penalty_yuan", "carrier"], ascending=[False, True],
                                kind="stable") for part in (national, lanes)]  # fmt: skip
    return pd.concat(ordered, ignore_index=True)


def with_penalty_costs(rows: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """The scorecard rows with `penalty_lines` and `penalty_yuan` (0 where nothing was
    charged)."""
    key = costs.assign(province=costs["province"].fillna(""))
    joined = rows.assign(_province=rows["province"].fillna("")).merge(
        key.rename(columns={"province": "_province"}), on=["carrier", "_province"], how="left"
    )
    joined["penalty_lines"] = joined["penalty_lines"].fillna(0).astype(int)
    joined["penalty_yuan"] = joined["penalty_yuan"].fillna(0.0).astype(float).round(2)
    joined.index = rows.index
    return joined.drop(columns=["_province"])
