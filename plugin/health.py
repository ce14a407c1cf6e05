"""The cluster's own health indicators (``GET _health_report``, ES >= 8.7),
parsed defensively.  Stdlib only."""
from collections import namedtuple

from .snapshots import ResponseShapeError

Indicator = namedtuple("Indicator", "name status symptom")


def parse_health(payload, names):
    """The named indicators of ``GET _health_report/<names>``."""
    indicators = payload.get("indicators") if isinstance(payload, dict) else None
    if not isinstance(indicators, dict):
        raise ResponseShapeError("_health_report has no indicators")
    found = []
    for name in names:
        item = indicators.get(name)
        if item is None:
            continue  # not reported by this build: no SLM without x-pack (ES 8.19.21/9.5.2 zips)
        if not isinstance(item, dict) or not isinstance(item.get("status"), str):
            raise ResponseShapeError(f"_health_report has no status for {name!r}")
        symptom = item.get("symptom") if isinstance(item.get("symptom"), str) else ""
        found.append(Indicator(name, item["status"].lower(), symptom))
    if not found:
        raise ResponseShapeError(f"_health_report has none of the indicators {', '.join(names)}")
    return tuple(found)
