"""Sentences for the status line: short, ASCII, no ``|``, names cleaned.

Snapshot and repository names come from the cluster; a ``|`` would split the
status line from its perfdata and a newline would end it, so they are
cleaned and shortened before they reach any output.
"""
import re
from datetime import datetime, timezone

from .durations import format_duration

# What a name may not carry onto a status line: anything outside printable
# ASCII, and the characters Nagios' illegal_macro_output_chars removes (its
# default set) plus "|" (the perfdata separator) and "\\".  The one copy of the
# rule: credentials.py derives a secret's cleaned form from it.
UNSAFE = re.compile(r"[^\x21-\x7e]|[|`$'\"<>&~\\]")
MAX_NAME = 48
# The first line goes to pagers; the full reason is in the -v output.  With
# a reason the status line runs to about 120 characters (README, States).
REASON_ON_STATUS_LINE = 72


# A cluster may send a 90 MB reason: only this much of any text is looked at.
PRE_CUT = 4096
_redact = str
# Whether the reader's locale shows UTF-8 (use_locale): then a name in
# another script is shown as it is, else escaped in ASCII.
_readable = False


def use_locale(environ, python_chose_utf8=False):
    """Register the run's locale (cli.main): LC_ALL, then LC_CTYPE, then
    LANG, as the reader's terminal or log reads them.

    Not stdout's encoding: under LANG=C (or no locale at all, or one not
    installed) Python switches itself to UTF-8 mode and sets LC_CTYPE to
    C.UTF-8 in its own environment (PEP 538, 540); ``python_chose_utf8``
    says it did, and then the locale the reader has is the C one."""
    global _readable
    if python_chose_utf8:
        _readable = False
        return
    value = next((environ[k] for k in ("LC_ALL", "LC_CTYPE", "LANG") if environ.get(k)), "")
    _readable = value.partition(".")[2].replace("-", "").lower().startswith("utf8")


def safe_name(text, readable=None):
    """``text`` with every UNSAFE character made harmless: ASCII ones become
    "_"; a printable character of another script stays as it is when the
    locale reads UTF-8, else it is percent-encoded (UTF-8 bytes), so that two
    names in that script stay two names ("备份" is %E5%A4%87%E4%BB%BD under
    LANG=C, not "__")."""
    readable = _readable if readable is None else readable

    def one(match):
        char = match.group(0)
        if char < "\x80":
            return "_"
        if readable and char.isprintable():  # not U+2028, bidi controls, lone surrogates
            return char
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return UNSAFE.sub(one, text)


def use_redactor(redact):
    """Register the run's Redactor (cli.main): text from the cluster is
    redacted here, before it is cut, so a secret cannot be cut in two and
    slip past the redaction of the whole output."""
    global _redact
    _redact = redact


def _prepared(text, collapse):
    """Cut to PRE_CUT, whitespace collapsed, secrets redacted."""
    text = str(text)
    cut = len(text) > PRE_CUT
    if cut:
        text = text[:PRE_CUT]
    if collapse:
        text = " ".join(text.split())
    text = _redact(text)
    if cut:  # what ends at the cut may be the start of a secret
        text = text[: max(0, len(text) - getattr(_redact, "longest", 0))] + "..."
    return text


def cut(text, limit):
    """Text from the cluster as it is (JSON output), redacted and cut."""
    text = _prepared(text, collapse=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clean(text, limit=MAX_NAME):
    """A name safe for a status line and for Nagios' macro filter."""
    text = safe_name(_prepared(text, collapse=False))
    if len(text) <= limit:
        return text
    text = text[: limit - 3]
    # Not a cut inside an escape: "%E" would read as something else.
    escape = text.rfind("%", len(text) - 2)
    return (text[:escape] if escape >= 0 else text) + "..."


def clean_reason(text, limit=120):
    """Free text (a failure reason) as one printable ASCII line without ``|``."""
    text = _prepared(text, collapse=True).replace("|", "/")
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cut_at_word(text, limit):
    """Free text shortened at a word boundary, so the cause survives whole."""
    text = clean_reason(text, len(str(text)) + 1)
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "..."


_STEPS = (86400, 3600, 60, 1)


def beyond(seconds, limit):
    """An age past an upper limit (a nagiosplugin Range), rounded up at the
    precision shown, so "X old, more than Y" never reads as X <= Y (93601 s
    is 1d3h, not 1d2h).

    >>> from nagiosplugin import Range
    >>> beyond(93601, Range("93600"))
    '1d3h'
    >>> beyond(600, Range("@0:3600"))
    '10m'
    """
    if limit.invert or limit.end == float("inf") or seconds <= limit.end:
        return format_duration(seconds)
    first = next((i for i, unit in enumerate(_STEPS) if seconds >= unit), len(_STEPS) - 1)
    step = _STEPS[min(first + 1, len(_STEPS) - 1)]
    if int(seconds) // step * step > limit.end:
        return format_duration(seconds)  # shown as usual, it already exceeds the limit
    return format_duration(-(-int(seconds) // step) * step)


def ago(seconds):
    return format_duration(seconds) + " ago" if seconds else "just now"


def snapshot_phrase(snap, now_ms):
    """``nightly-1 SUCCESS, 3h12m old`` and its siblings for other states."""
    name = clean(snap.name)
    if snap.running:
        return f"{name} IN_PROGRESS for {format_duration(snap.duration_s(now_ms))}"
    if snap.state == "SUCCESS":
        return f"{name} SUCCESS, {format_duration(snap.age_s(now_ms))} old"
    phrase = f"{name} {clean(snap.state, 24)} {ago(snap.age_s(now_ms))}"
    if snap.state == "PARTIAL" and snap.shards_total:
        phrase += f", {snap.shards_failed}/{snap.shards_total} shards failed"
    if snap.state == "INCOMPATIBLE":
        phrase += ", cannot be restored on this cluster"
    if snap.state == "FAILED" and snap.reason:
        phrase += ": " + cut_at_word(snap.reason, REASON_ON_STATUS_LINE)
    return phrase


def window_phrase(window_s):
    """How far back the check looked, when it did not read everything."""
    return f" in the last {format_duration(window_s)} (the check looks no further back)" if window_s else ""


def iso(ms):
    """An epoch-ms instant as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_bytes(size):
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}TiB"  # the largest unit shown, however large
