"""The /metrics text with the store's gauges written from their rows
(monitor/metrics/exposition.py): byte for byte what prometheus-client's `generate_latest`
writes, for any label values and any value, and served by /metrics."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine

from monitor.metrics.collectors import StoreCollector
from monitor.metrics.exposition import RenderedGauge, generate, render
from tests.support.metrics import populate, promtool_check_metrics, scrape

LABELS = ("warehouse", "carrier", "kind")  # not in name order: the text sorts them
label_values = st.text(alphabet=st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ['"', "\\", "\n", "江苏", "", 'a\\"b\n']
)
numbers = st.integers(-(10**12), 10**12) | st.floats(allow_nan=True, allow_infinity=True)
rows = st.dictionaries(st.tuples(label_values, label_values, label_values), numbers, max_size=6)


HELP = "Some help, with a \\ and\na newline."


def _library(name: str, labels: tuple[str, ...], samples: dict[tuple[str, ...], float]) -> bytes:
    family = GaugeMetricFamily(name, HELP, labels=list(labels))
    for values, value in samples.items():
        family.add_metric(list(values), value)
    return render([family])


@given(rows)
def test_a_rendered_gauge_is_written_as_generate_latest_writes_it(
    samples: dict[tuple[str, ...], float],
) -> None:
    gauge = RenderedGauge("parcelwatch_x", HELP, LABELS)
    rendered = gauge.with_rows(list(samples.items()))
    assert rendered.text == _library("parcelwatch_x", LABELS, samples)
    assert render([rendered]) == rendered.text  # its samples, for every other consumer


@given(numbers)
def test_a_gauge_without_labels(value: float) -> None:
    gauge = RenderedGauge("parcelwatch_y", HELP, ()).with_rows([((), value)])
    assert gauge.text == _library("parcelwatch_y", (), {(): value})


def _without_duration(text: bytes) -> bytes:
    return re.sub(rb"\nparcelwatch_scrape_duration_seconds \S+\n", b"\n", text)


def test_generate_is_generate_latest_for_a_store_and_other_collectors(engine: Engine) -> None:
    populate(engine)
    registry = scrape(StoreCollector(engine, ["zto", "sf", "jt"]))
    counter = Counter("parcelwatch_test_things", "Things.", ["what"], registry=registry)
    counter.labels("a").inc()
    text = generate(registry)
    assert _without_duration(text) == _without_duration(generate_latest(registry))
    assert b'parcelwatch_parcels_active{carrier="zto",status="in_transit"} 2.0\n' in text
    assert b'parcelwatch_test_things_total{what="a"} 1.0\n' in text
    assert generate(registry).count(b"# TYPE parcelwatch_alerts_open gauge\n") == 1
    promtool_check_metrics(text)


def test_generate_without_rendered_families() -> None:
    registry = CollectorRegistry()
    Counter("parcelwatch_only_things", "Things.", registry=registry).inc(2)
    assert generate(registry) == generate_latest(registry)
