"""The alert model and lifecycle, the notification outbox and (later) the sinks.

Knows nothing of carriers: an alert is a kind, a severity, a subject and a state."""
