"""parcelwatch's Prometheus instruments (instruments.py) and the store collector that
builds store gauges at scrape time (collectors.py)."""
