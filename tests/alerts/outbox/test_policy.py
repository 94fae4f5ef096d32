"""The delivery policy (alerts/outbox/policy.py): exponential backoff, capped, honouring
Retry-After."""

from __future__ import annotations

from datetime import timedelta

from alerts.outbox import DeliveryPolicy


def test_policy_backoff_is_capped_and_honours_retry_after() -> None:
    policy = DeliveryPolicy()
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert policy.backoff(12) == timedelta(hours=1)
    assert policy.backoff(1, retry_after=600) == timedelta(minutes=10)
