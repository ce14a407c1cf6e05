"""Snapshot lifecycle management, parsed defensively.

A policy can stop producing snapshots without any snapshot failing: SLM
stopped (elastic/kibana#148241), or its invocations fail before a snapshot
exists.  The listing cannot show that; ``_slm/status`` and ``_slm/policy``
can (and, from ES 8.7, ``_health_report``: health.py).  Shapes:
docs/api-notes.md.
Stdlib only.
"""
import json
from collections import namedtuple

from .snapshots import MAX_MS, OutOfRange, ResponseShapeError, ascii_upper

# enabled: False for a disabled OpenSearch snapshot-management policy;
# deletion_failure_*: its last deletion (retention) run failed.
Policy = namedtuple("Policy", "name repository next_ms last_success_ms last_success_name "
                              "last_failure_ms last_failure_name last_failure_details "
                              "enabled deletion_failure_ms deletion_failure_details",
                    defaults=(True, None, ""))
SlmFacts = namedtuple("SlmFacts", "mode policies")  # mode: RUNNING, STOPPING, STOPPED


def _int(value, owner, field):
    """A time in milliseconds; None when absent (or null).

    Any other value that is no time between 1970 and 9999 is refused,
    naming ``field``: dropped, an out-of-range last_failure.time would
    leave a failed policy reading OK."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MS:
        return value
    what = "not a number" if not isinstance(value, (int, float, OutOfRange)) or isinstance(value, bool) else \
        f"out of range ({value.text if isinstance(value, OutOfRange) else OutOfRange(value).text}; " \
        "not a time between 1970 and 9999)"
    raise ResponseShapeError(f"{owner}: field {field!r} is {what}")


def _record(item, owner, field):
    """(time_ms, snapshot name, details) of a last_success / last_failure record."""
    if not isinstance(item, dict):
        return None, "", ""
    when = _int(item.get("time"), owner, f"{field}.time") or _int(item.get("start_time"), owner, f"{field}.start_time")
    name = item.get("snapshot_name") if isinstance(item.get("snapshot_name"), str) else ""
    details = item.get("details") if isinstance(item.get("details"), str) else ""
    return when, name, readable_details(details)


def readable_details(details):
    """SLM stores a failure as the exception's JSON in a string
    ({"type": ..., "reason": ..., "stack_trace": ...}): "type: reason"."""
    if not details.lstrip().startswith("{"):
        return details
    try:
        error = json.loads(details)
    except ValueError:
        return details  # truncated by Elasticsearch (1000 chars): shown as it is
    if not isinstance(error, dict):
        return details
    kind, reason = error.get("type"), error.get("reason")
    parts = [str(p) for p in (kind, reason) if isinstance(p, str) and p]
    return ": ".join(parts) if parts else details


def parse_slm_status(payload):
    mode = payload.get("operation_mode") if isinstance(payload, dict) else None
    if not isinstance(mode, str):
        raise ResponseShapeError("_slm/status has no operation_mode")
    return ascii_upper(mode)


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
        where = f"SLM policy {str(name)[:40]!r}"
        success = _record(item.get("last_success"), where, "last_success")
        failure = _record(item.get("last_failure"), where, "last_failure")
        policies.append(Policy(name=str(name), repository=repository,
                               next_ms=_int(item.get("next_execution_millis"), where, "next_execution_millis"),
                               last_success_ms=success[0], last_success_name=success[1],
                               last_failure_ms=failure[0], last_failure_name=failure[1],
                               last_failure_details=failure[2]))
    return tuple(policies)


# OpenSearch snapshot management (index-management plugin, OpenSearch >= 2.1).
# Shapes from the OpenSearch documentation, "Snapshot Management API"
# (docs.opensearch.org, tuning-your-cluster/availability-and-recovery/
# snapshots/sm-api): GET _plugins/_sm/policies answers {"policies": [{"_id",
# "sm_policy": {"name", "enabled", "snapshot_config": {"repository"}, ...}}],
# "total_policies"}; GET _plugins/_sm/policies/<names>/_explain answers
# {"policies": [{"name", "enabled", "creation": {"current_state", "trigger":
# {"time"}, "latest_execution": {"status", "start_time", "end_time", "info":
# {"message", "cause"}}}, "deletion": {...}}]}.  Times are epoch ms;
# status is IN_PROGRESS, SUCCESS, RETRYING, FAILED or TIME_LIMIT_EXCEEDED.
SM_FAILED = ("FAILED", "TIME_LIMIT_EXCEEDED")


def parse_sm_policies(payload):
    """{policy name: repository} from GET _plugins/_sm/policies."""
    items = payload.get("policies") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ResponseShapeError("_plugins/_sm/policies has no 'policies' list")
    policies = {}
    for item in items:
        policy = item.get("sm_policy") if isinstance(item, dict) else None
        if isinstance(policy, dict) and isinstance(policy.get("name"), str):
            config = policy.get("snapshot_config") if isinstance(policy.get("snapshot_config"), dict) else {}
            repository = config.get("repository")
            policies[policy["name"]] = repository if isinstance(repository, str) else ""
    return policies


def _execution(part, owner, field):
    """(status, time_ms, details) of a creation/deletion's latest_execution."""
    latest = part.get("latest_execution") if isinstance(part, dict) else None
    if not isinstance(latest, dict) or not isinstance(latest.get("status"), str):
        return None, None, ""
    field += ".latest_execution"
    when = (_int(latest.get("end_time"), owner, f"{field}.end_time")
            or _int(latest.get("start_time"), owner, f"{field}.start_time"))
    info = latest.get("info") if isinstance(latest.get("info"), dict) else {}
    texts = [info.get(k) for k in ("message", "cause")]
    return ascii_upper(latest["status"]), when, ": ".join(t for t in texts if isinstance(t, str) and t)


def parse_sm_explain(payload, repositories=None):
    items = payload.get("policies") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ResponseShapeError("_plugins/_sm/policies/_explain has no 'policies' list")
    policies = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ResponseShapeError("an explained snapshot management policy has no name")
        creation = item.get("creation") if isinstance(item.get("creation"), dict) else {}
        trigger = creation.get("trigger") if isinstance(creation.get("trigger"), dict) else {}
        where = f"snapshot management policy {item['name'][:40]!r}"
        status, when, details = _execution(creation, where, "creation")
        deletion_status, deletion_when, deletion_details = _execution(item.get("deletion"), where, "deletion")
        failed = status in SM_FAILED
        policies.append(Policy(
            name=item["name"], repository=(repositories or {}).get(item["name"], ""),
            next_ms=_int(trigger.get("time"), where, "creation.trigger.time"),
            last_success_ms=when if status == "SUCCESS" else None, last_success_name="",
            last_failure_ms=when if failed else None, last_failure_name="",
            last_failure_details=(f"{status}: {details}" if details else status) if failed else "",
            enabled=item.get("enabled") is not False,
            deletion_failure_ms=deletion_when if deletion_status in SM_FAILED else None,
            deletion_failure_details=deletion_details if deletion_status in SM_FAILED else ""))
    return tuple(sorted(policies, key=lambda p: p.name))
