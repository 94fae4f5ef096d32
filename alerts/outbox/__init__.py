"""The notification outbox to the sinks: claim, send, mark; retry with backoff.

Detection and the alert queue write an outbox row in the same transaction as the alert
change it announces (and the tracking code writes one when a parcel ships or is delivered,
monitor/ingest/parcel_events.py). `deliver_due` is the job that empties it:

1. Claim: one compare-and-set UPDATE takes up to `batch_size` due rows (`available_at <=
   now`, `delivered_at IS NULL`) and moves their `available_at` to `now + lease`, counting
   the claim in `attempts` (with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never
   take the same row). If this process dies, the lease lapses and the rows come back.
2. Fan out: each row goes to every sink whose filters accept it (event, kind, severity).
   Per (row, sink) an `outbox_delivery` row records attempts, delivered_at, last_error and
   whether the failure is permanent, so a sink that already has a message never gets it
   again because another sink failed. For one sink, messages keep the outbox order, and a
   message waits while an older message about the same alert is still pending for it.
3. Pace: each sink's sliding-window limiter (20 a minute for WeCom and DingTalk robots) is
   waited on for up to `max_rate_wait` seconds; beyond that the rest waits for the next run.
   More than `digest_after` messages waiting for one sink are sent as one digest.
4. Mark: after each send, its (row, sink) deliveries are written at once. A transient
   failure pushes that delivery's next attempt forward (30 s, 1 min, 2 min ... capped at
   1 h, or the channel's Retry-After if longer) and holds the sink's other messages until
   then; a permanent one (404, revoked token, bad signature) is marked and never retried;
   after `max_attempts` a transient failure becomes permanent. An exception a sink did not
   map (a bug, a payload it chokes on) counts as a transient failure of that one message,
   whose next attempt moves forward: it cannot crash-loop the job or block the others.
5. Settle: a row whose every target sink is delivered or has failed permanently gets
   `delivered_at` (= settled; `last_error` then lists the sinks that failed for good, NULL
   if every sink got it). Other rows get `available_at` = their earliest next attempt.
   A row claimed `max_claims` times without settling (the job was killed on it each time),
   or older than `max_age` before its first delivery, is given up on for its pending
   sinks: visible in `outbox_delivery` (permanent, last_error), never retried forever.

Delivery guarantee: at least once, per (row, sink). Nothing committed to the outbox is lost:
a row leaves the due set only when each target sink has it or has permanently refused it
(or it was given up on as above, visibly). A crash (even kill -9) after a sink accepted a
message and before its delivery was marked re-sends that message once the lease lapses, so
a sink may see it twice. Sinks that can de-duplicate get the row's idempotency key: the
webhook's `Idempotency-Key` header and body, e-mail's Message-ID; Alertmanager de-duplicates
by labels by design; chat robots cannot, and show the rare duplicate.

`deliver_due` is async (sinks speak HTTP over an injected client); store work runs in worker
threads. Run it as a singleton job (one scheduler; on PostgreSQL under an advisory lock), every
10-30 s. This module knows nothing of carriers: the tables are passed in.
"""

from __future__ import annotations

from alerts.outbox.delivery import deliver_due
from alerts.outbox.policy import DeliveryPolicy, DeliveryStats
from alerts.outbox.resend import resend_active
from alerts.outbox.store import claim_due

__all__ = ["DeliveryPolicy", "DeliveryStats", "claim_due", "deliver_due", "resend_active"]
