"""Snapshot lifecycle management and health indicators, parsed defensively.

A policy can stop producing snapshots without any snapshot failing: SLM
stopped (elastic/kibana#148241), or its invocations fail before a snapshot
exists.  The listing cannot show that; ``_slm/status``, ``_slm/policy`` and,
from ES 8.7, ``_health_report`` can.  Shapes: ../shared/es-api.md §8.
Stdlib only.
"""
from collections import namedtuple

from .snapshots import MAX_MS, ResponseShapeError

Policy = namedtuple("Policy", "name repository next_ms last_success_ms last_success_name "
                              "last_failure_ms last_failure_name last_failure_details")
Indicator = namedtuple("Indicator", "name status symptom")
SlmFacts = namedtuple("SlmFacts", "mode policies")  # mode: RUNNING, STOPPING, STOPPED


def _int(value):
    """A time in milliseconds; None when absent or not a time up to year 9999."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MS:
        return value
    return None


def _record(item):
    """(time_ms, snapshot name, details) of a last_success / last_failure record."""
    if not isinstance(item, dict):
        return None, "", ""
    when = _int(item.get("time")) or _int(item.get("start_time"))
    name = item.get("snapshot_name") if isinstance(item.get("snapshot_name"), str) else ""
    details = item.get("details") if isinstance(item.get("details"), str) else ""
    return when, name, details


def parse_slm_status(payload):
    mode = payload.get("operation_mode") if isinstance(payload, dict) else None
    if not isinstance(mode, str):
        raise ResponseShapeError("_slm/status has no operation_mode")
    return mode.upper()


def parse_policies(payload):
    """Policies from ``GET _slm/policy[/<id>]``: an object keyed by policy id."""
    if not isinstance(payload, dict):
        raise ResponseShapeError("_slm/policy is not a JSON object")
    policies = []
    for name, item in sorted(payload.items()):
        if not isinstance(item, dict):
            raise ResponseShapeError(f"SLM policy {name!r} is not an object")
        definition = item.get("policy") if isinstance(item.get("policy"), dict) else {}
        repository = definition.get("repository") if isinstance(definition.get("repository"), str) else ""
        success = _record(item.get("last_success"))
        failure = _record(item.get("last_failure"))
        policies.append(Policy(name=str(name), repository=repository,
                               next_ms=_int(item.get("next_execution_millis")),
                               last_success_ms=success[0], last_success_name=success[1],
                               last_failure_ms=failure[0], last_failure_name=failure[1],
                               last_failure_details=failure[2]))
    return tuple(policies)


def parse_health(payload, names):
    """The named indicators of ``GET _health_report/<names>``."""
    indicators = payload.get("indicators") if isinstance(payload, dict) else None
    if not isinstance(indicators, dict):
        raise ResponseShapeError("_health_report has no indicators")
    found = []
    for name in names:
        item = indicators.get(name)
        if not isinstance(item, dict) or not isinstance(item.get("status"), str):
            raise ResponseShapeError(f"_health_report has no status for {name!r}")
        symptom = item.get("symptom") if isinstance(item.get("symptom"), str) else ""
        found.append(Indicator(name, item["status"].lower(), symptom))
    return tuple(found)
