# parcelwatch: slim, non-root. The default command runs the daemon; mount a config at
# /data/parcelwatch.toml (or set PARCELWATCH_CONFIG) and pass carrier credentials as env.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Pango and a CJK font for the evidence PDFs (WeasyPrint); the scorecard charts use the font too.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY carriers ./carriers
COPY alerts ./alerts
RUN pip install . && useradd --create-home --uid 10001 parcelwatch \
    && mkdir -p /data && chown parcelwatch /data

USER parcelwatch
WORKDIR /data
ENV PARCELWATCH_DATABASE_URL=sqlite:////data/parcelwatch.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["parcelwatch", "run", "--host", "0.0.0.0", "--port", "8000"]
