"""Reading samples out of a Prometheus text exposition (what a scrape of ``/metrics`` answers)."""

from __future__ import annotations


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if not series.startswith(name):
            continue
        rest = series[len(name) :]
        found = ",".join(sorted(rest.strip("{}").split(","))) if rest else ""
        if (rest in ("", "{}") and not labels) or found == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")
