"""Everything that speaks to a carrier: the canonical status model, the carrier registry,
and (later) one adapter per tracking API. Knows nothing of alerts, the database or the web."""
