"""Reading the service's Prometheus text (`GET /metrics`) in tests."""

from __future__ import annotations

import math
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample named `name` (e.g. `…_total`, `…_bucket`, `…_count`), with its labels."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def summed(texts: list[str], name: str, by: str) -> dict[str, float]:
    """The metric over several instances' texts, summed per value of the label `by`."""
    totals: dict[str, float] = defaultdict(float)
    for text in texts:
        for labels, value in samples(text, name):
            totals[labels.get(by, "")] += value
    return dict(totals)


def buckets(texts: list[str], histogram: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts (bound → count), summed over instances and labels."""
    return {float(le): n for le, n in summed(texts, f"{histogram}_bucket", by="le").items()}


def quantile_bound(cumulative: dict[float, float], q: float) -> float:
    """The smallest bucket bound holding a share `q` of the observations: an upper bound of the
    q-quantile."""
    total = cumulative.get(math.inf, 0.0)
    for bound, count in sorted(cumulative.items()):
        if total and count >= q * total:
            return bound
    return math.nan
