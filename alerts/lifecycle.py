"""Turn what detection sees now into changes to the alert queue, as a pure function.

Given the exceptions detected at `now` and the alerts currently open, decide which alerts to
open, which to escalate or de-escalate, and which to resolve because their condition cleared
(or a graver kind of the same family took over). A condition a person resolved by hand stays
resolved while it is the same episode (same `since`); if it clears and comes back, a new
alert opens. The caller applies the plan in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from alerts.model import SEVERITY_RANK, SUPERSEDED_BY, Resolution

SEVERITY_ORDER = {s.value: rank for s, rank in SEVERITY_RANK.items()}


@dataclass
class Plan:
    open: pd.DataFrame  # detected rows (with `fingerprint`) that need a new alert
    escalate: pd.DataFrame  # id, severity (new), old_severity, since
    deescalate: pd.DataFrame  # id, severity (new), old_severity, since
    moved: pd.DataFrame  # id, since: same severity, the condition's start moved
    resolve: pd.DataFrame  # id, resolution

    @property
    def changes(self) -> int:
        return sum(
            len(f) for f in (self.open, self.escalate, self.deescalate, self.moved, self.resolve)
        )


def plan(
    detected: pd.DataFrame, open_alerts: pd.DataFrame, manually_resolved: pd.DataFrame
) -> Plan:
    """`detected`: fingerprint, kind, severity, since, subject columns, detail.
    `open_alerts`: id, fingerprint, kind, severity, since.
    `manually_resolved`: fingerprint, since (latest manual resolution per fingerprint)."""
    # Empty frames come back with whatever dtype the driver guessed: align the join keys.
    detected = detected.astype({"fingerprint": object})
    open_alerts = open_alerts.astype({"fingerprint": object, "kind": object, "severity": object})
    manually_resolved = manually_resolved.astype({"fingerprint": object})
    merged = detected.merge(
        open_alerts[["id", "fingerprint", "severity", "since"]],
        on="fingerprint",
        how="left",
        suffixes=("", "_open"),
    )
    is_new = merged["id"].isna()
    new = merged.loc[is_new, detected.columns]
    if not manually_resolved.empty and not new.empty:
        done = new.merge(manually_resolved, on=["fingerprint", "since"], how="left", indicator=True)
        new = new.loc[(done["_merge"] == "left_only").to_numpy()]

    kept = merged.loc[~is_new].copy()
    kept["id"] = kept["id"].astype("int64")
    new_rank = kept["severity"].astype(object).map(SEVERITY_ORDER).astype("int64")
    old_rank = kept["severity_open"].astype(object).map(SEVERITY_ORDER).astype("int64")
    columns = ["id", "severity", "severity_open", "since"]
    escalate = kept.loc[new_rank > old_rank, columns]
    deescalate = kept.loc[new_rank < old_rank, columns]
    moved = kept.loc[
        (new_rank == old_rank) & (kept["since"] != kept["since_open"]), ["id", "since"]
    ]

    gone = open_alerts.loc[~open_alerts["fingerprint"].isin(detected["fingerprint"])]
    resolve = pd.DataFrame({"id": pd.Series(dtype="int64"), "resolution": pd.Series(dtype=object)})
    if not gone.empty:
        successor = gone["kind"].astype(object).map(SUPERSEDED_BY)
        subject = gone["fingerprint"].astype(object).str.split(":", n=1).str[1]
        superseded = (successor + ":" + subject).isin(detected["fingerprint"])
        resolve = pd.DataFrame(
            {
                "id": gone["id"].astype("int64"),
                "resolution": [
                    Resolution.SUPERSEDED.value if s else Resolution.CLEARED.value
                    for s in superseded.to_numpy(dtype=bool, na_value=False)
                ],
            }
        )
    rename = {"severity_open": "old_severity"}
    return Plan(
        open=new.reset_index(drop=True),
        escalate=escalate.rename(columns=rename).reset_index(drop=True),
        deescalate=deescalate.rename(columns=rename).reset_index(drop=True),
        moved=moved.reset_index(drop=True),
        resolve=resolve.reset_index(drop=True),
    )
