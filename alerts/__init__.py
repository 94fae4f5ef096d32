"""The alert model and lifecycle, the durable notification outbox and its delivery, and
the sinks (webhook, WeCom, DingTalk, Slack, Alertmanager, email).

Knows nothing of carriers: an alert is a kind, a severity, a subject and a state."""
