"""The daemon's HTTP face: health, metrics, carrier push callbacks, the REST API (and, later,
the alert queue pages). One ASGI app served by uvicorn."""
