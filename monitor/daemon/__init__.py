"""The daemon: scheduler wiring, the poller and its schedule, carrier clients, and the
write side of a detection tick."""
