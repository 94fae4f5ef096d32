# parcelwatch: slim, non-root. The default command runs the daemon's job (for now the demo,
# until `parcelwatch run` lands); override it with `parcelwatch run --config ...`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY carriers ./carriers
COPY alerts ./alerts
RUN pip install . && useradd --create-home --uid 10001 parcelwatch \
    && mkdir -p /data && chown parcelwatch /data

USER parcelwatch
WORKDIR /data
ENV PARCELWATCH_DATABASE_URL=sqlite:////data/parcelwatch.db
CMD ["parcelwatch", "demo"]
