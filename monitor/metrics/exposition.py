"""The /metrics text, with the store's gauges written from their rows once, not per sample
on every scrape.

prometheus-client's `generate_latest` formats every sample on every scrape (sorting,
validating and escaping its labels, a few microseconds each): for the store's few thousand
series that was most of a scrape. A `RenderedGauge` is a gauge family built straight from its
rows of label values and a value, with its text written when it is built, in the exact form
`generate_latest` writes (a test compares them byte for byte); its prometheus-client samples
are built only if someone asks for them (`get_sample_value`, `generate_latest` itself). The
store collector hands out the same family for as long as its rows do not change, so an
unchanged family costs a scrape nothing but its query, and `generate` copies its text
(docs/observability.md "Store collectors").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, lru_cache

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

# One sample: its label values, in the family's label order, and its value.
Row = tuple[tuple[str, ...], float]
# How prometheus-client writes a value (1.0, 2.5e+06, +Inf, NaN).
_value: Callable[[float], str] = floatToGoString


class _Families(Collector):
    """A fixed list of families, to render with `generate_latest`."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: Iterable[Metric]) -> bytes:
    """The families in the Prometheus text format, as prometheus-client writes it."""
    return generate_latest(_Families(families))


def _escape(value: str) -> str:
    """A label value as the text format quotes it (backslash, newline, double quote)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@lru_cache(maxsize=65536)  # the series ever served: bounded by the labels' values
def _series(name: str, labels: tuple[str, ...], values: tuple[str, ...]) -> str:
    """A sample line up to its value: the name and the labels, sorted by label name as
    generate_latest writes them."""
    if not labels:
        return f"{name} "
    pairs = sorted(zip(labels, values, strict=True))
    quoted = ",".join(f'{label}="{_escape(value)}"' for label, value in pairs)
    return f"{name}{{{quoted}}} "


@cache
def _header(name: str, documentation: str) -> str:
    """The HELP and TYPE lines of a gauge, written by prometheus-client itself."""
    return render([Metric(name, documentation, "gauge")]).decode()


class RenderedGauge(Metric):
    """A gauge family from its rows, with its text; `with_rows` makes the next one.

    Label and metric names must be plain Prometheus names (letters, digits, underscores),
    which the text format writes as they are; label values may be anything."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], rows: Sequence[Row] = ()
    ) -> None:
        super().__init__(name, documentation, "gauge")
        self.labels = tuple(labels)
        self._labelnames = self.labels  # where prometheus-client's own families keep them
        self.rows = tuple(rows)
        self._samples: list[Sample] | None = None
        self.text = self._render().encode()

    def with_rows(self, rows: Sequence[Row]) -> RenderedGauge:
        return RenderedGauge(self.name, self.documentation, self.labels, rows)

    def _render(self) -> str:
        name, labels = self.name, self.labels
        lines = [_header(name, self.documentation)]
        lines += [
            f"{_series(name, labels, values)}{_value(value)}\n" for values, value in self.rows
        ]
        return "".join(lines)

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            self._samples = [
                Sample(self.name, dict(zip(self.labels, values, strict=True)), float(value))
                for values, value in self.rows
            ]
        return self._samples

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self._samples = samples or None  # Metric.__init__ sets []: built from rows instead


def generate(registry: Collector = REGISTRY) -> bytes:
    """What `generate_latest(registry)` returns, copying the text of rendered gauges."""
    parts: list[bytes] = []
    plain: list[Metric] = []
    for family in registry.collect():
        if isinstance(family, RenderedGauge):
            if plain:
                parts.append(render(plain))
                plain = []
            parts.append(family.text)
        else:
            plain.append(family)
    if plain:
        parts.append(render(plain))
    return b"".join(parts)
