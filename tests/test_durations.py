import pytest

from plugin.durations import DurationError, format_duration, parse_age_range, parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("3600", 3600), ("0", 0), ("90m", 5400), ("26h", 93600), ("2d", 172800),
    ("1d12h", 129600), ("1w", 604800), ("1.5h", 5400), (" 45s ", 45), ("2D", 172800),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-5", "1x", "1h 2m", "1e3", "10:20", "∞", "1" * 20])
def test_parse_duration_rejects(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize("text, spec", [
    ("3600", "3600"), ("26h", "93600"), ("1h:2h", "3600:7200"), ("@1h:2h", "@3600:7200"),
    ("~:90m", "~:5400"), ("10m:", "600:"), ("0:1d", "0:86400"),
])
def test_parse_age_range(text, spec):
    assert parse_age_range(text) == spec


@pytest.mark.parametrize("text", ["10:20:30", "2h:1h", "abc", "@", "", ":", "1h:x"])
def test_parse_age_range_rejects(text):
    with pytest.raises(DurationError):
        parse_age_range(text)


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (59, "59s"), (60, "1m"), (61, "1m1s"), (3600, "1h"), (3660, "1h1m"),
    (11520, "3h12m"), (86400, "1d"), (93600, "1d2h"), (90061, "1d1h"), (-5, "0s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
