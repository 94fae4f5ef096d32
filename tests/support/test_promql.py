"""The PromQL name extractor that the deploy checks rely on (tests/support/promql.py)."""

from tests.support.promql import metric_names


def test_metric_names_of_promql() -> None:
    expr = (
        'sum by (job, carrier) (rate(parcelwatch_tracking_requests_total{outcome!="ok"}[5m]))'
        " / on (job) group_left histogram_quantile(0.9, x_bucket[$__rate_interval]) offset 1h"
        ' > 2 * job:recorded:ratio or vector(0) and time() - y{a="b c(d)"}'
    )
    assert metric_names(expr) == {
        "parcelwatch_tracking_requests_total", "x_bucket", "job:recorded:ratio", "y"
    }  # fmt: skip
