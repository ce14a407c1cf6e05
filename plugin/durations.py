"""Durations and age ranges from the command line, turned into seconds.

Monitoring configurations say ``26h``, ``1d12h`` or ``1y``; nagiosplugin's
Range only knows plain numbers.  Converting here, before any Context is built, keeps the
judgement on standard Nagios ranges in seconds and gives one clear error for
anything else.
"""
import re

# A year is 365 days: an age is counted, not dated, so leap days do not matter.
UNIT_SECONDS = {"y": 365 * 86400, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
# What the formatter prints: years and days, never weeks ("6y148d", "20d3h").
SHOWN_UNITS = ("y", "d", "h", "m", "s")
# Ten years: far beyond any sane backup age, small enough that a fuzzed
# "99999999999d" cannot turn into a float with an exponent in perfdata.
MAX_SECONDS = 10 * 365 * 86400

# ASCII digits only: \d (and int(), float()) also take "١٢" or "１２".
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PLAIN = re.compile(_NUMBER)
_COMPOUND = re.compile(rf"(?:{_NUMBER}[ywdhms])+")
_PART = re.compile(rf"({_NUMBER})([ywdhms])")


class DurationError(ValueError):
    """A duration or range the operator has to correct."""


def parse_duration(text):
    """Seconds in a duration: plain seconds or units y (365 days), w, d, h, m, s.

    >>> parse_duration("3600")
    3600
    >>> parse_duration("90m")
    5400
    >>> parse_duration("1d12h")
    129600
    >>> parse_duration("1.5h")
    5400
    >>> parse_duration("2w")
    1209600
    >>> parse_duration("1y30d")
    34128000
    >>> parse_duration("2x")
    Traceback (most recent call last):
    ...
    plugin.durations.DurationError: '2x' is not a duration (use e.g. 3600, 90m, 26h, 1d12h, 2w, 1y)
    """
    text = text.strip().lower()
    if _PLAIN.fullmatch(text):
        seconds = float(text)
    elif _COMPOUND.fullmatch(text):
        seconds = sum(float(n) * UNIT_SECONDS[u] for n, u in _PART.findall(text))
    else:
        raise DurationError(
            f"{text!r} is not a duration (use e.g. 3600, 90m, 26h, 1d12h, 2w, 1y)")
    if seconds > MAX_SECONDS:
        raise DurationError(f"{text!r} is longer than ten years")
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def parse_age_range(text):
    """A Nagios range whose bounds may be durations, with bounds in seconds.

    The result is what nagiosplugin's Range understands; the semantics are
    the monitoring-plugins ones (alert outside start:end, inside with @).

    >>> parse_age_range("26h")
    '93600'
    >>> parse_age_range("@1h:2h")
    '@3600:7200'
    >>> parse_age_range("~:90m")
    '~:5400'
    >>> parse_age_range("10m:")
    '600:'
    >>> parse_age_range("2h:1h")
    Traceback (most recent call last):
    ...
    plugin.durations.DurationError: range '2h:1h' starts after it ends
    """
    spec = text.strip()
    invert = spec.startswith("@")
    body = spec[1:] if invert else spec
    if body.count(":") > 1 or not body:
        raise DurationError(f"{text!r} is not a range (use e.g. 26h, 1h:2d, @0:10m)")
    start, colon, end = body.rpartition(":")
    if not colon:
        start, end = "", body
    elif not start and not end:
        raise DurationError(f"{text!r} is not a range (use e.g. 26h, 1h:2d, @0:10m)")
    low = float("-inf") if start == "~" else (parse_duration(start) if start else 0)
    high = parse_duration(end) if end else float("inf")
    if low > high:
        raise DurationError(f"range {text!r} starts after it ends")
    parts = ["@" if invert else ""]
    if colon:
        parts.append("~:" if start == "~" else f"{low}:")
    if end:
        parts.append(str(high))
    return "".join(parts)


def format_duration(seconds):
    """Two most significant units, the way a person reads an age.

    A year or more reads in years and days: "2347d7h" makes nobody see six
    years at a glance.

    >>> format_duration(11520)
    '3h12m'
    >>> format_duration(93600)
    '1d2h'
    >>> format_duration(45)
    '45s'
    >>> format_duration(86400)
    '1d'
    >>> format_duration(364 * 86400 + 23 * 3600)
    '364d23h'
    >>> format_duration(2338 * 86400 + 7 * 3600)
    '6y148d'
    """
    remaining = max(0, int(round(seconds)))
    if remaining == 0:
        return "0s"
    parts = []
    for unit in SHOWN_UNITS:
        count, remaining = divmod(remaining, UNIT_SECONDS[unit])
        if count or parts:
            parts.append((count, unit))
        if len(parts) == 2:
            break
    return "".join(f"{count}{unit}" for count, unit in parts if count)


def describe_range(limit):
    """How an age range (a nagiosplugin Range) reads in a status line.

    >>> from nagiosplugin import Range
    >>> describe_range(Range("93600"))
    'more than 1d2h'
    >>> describe_range(Range("@3600:7200"))
    'within @1h:2h'
    >>> describe_range(Range("31536000"))
    'more than 1y'
    """
    unbounded = limit.end == float("inf")
    if not limit.invert and limit.start == 0 and not unbounded:
        return f"more than {format_duration(limit.end)}"
    end = "" if unbounded else format_duration(limit.end)
    if limit.start == 0:  # a start of 0 goes without saying, as nagiosplugin writes the range
        joined = end
    else:
        joined = ("~" if limit.start == float("-inf") else format_duration(limit.start)) + ":" + end
    return ("within @" if limit.invert else "outside ") + joined
