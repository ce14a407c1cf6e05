"""Issue 20, item 6: strings are cut while the body arrives.

A 175 KB gzip body whose failure reason inflates to 90 MB cost 467 MB of
memory (and 12 s) before, and could end as "plugin timed out" or "out of
memory" instead of CRITICAL; the check never shows more than a few hundred
characters of a reason or a name."""
import gzip
import json
import random

import pytest

from plugin.client import CHUNK, KEEP, LONG_STRING, StringCutter
from tests.conftest import HOUR_MS, now_ms
from tests.fake_es import Cluster, Override, Snap
from tests.test_hardening import _peak_rss_kb


def _cut(data, chunk):
    body = bytearray()
    cutter = StringCutter(body)
    for at in range(0, len(data), chunk):
        cutter.add(data[at:at + chunk])
    return bytes(body)


def test_crit_failure_reason_of_90_mb_costs_tens_of_mb(serve):
    now = now_ms()
    snap = {"snapshot": "s-big", "repository": "backups", "state": "FAILED", "start_time_in_millis": now - HOUR_MS,
            "end_time_in_millis": now - HOUR_MS + 60_000, "duration_in_millis": 60_000,
            "shards": {"total": 1, "failed": 1, "successful": 0}, "reason": "disk full " * 9_000_000,
            "failures": []}
    body = gzip.compress(json.dumps({"snapshots": [snap]}).encode(), compresslevel=9)
    assert len(body) < 200_000
    cluster = Cluster("es8", {"backups": [Snap("old", "SUCCESS", now - 2 * HOUR_MS)]})
    cluster.overrides.append(("^/_snapshot/backups/(?!_current)",
                              Override(200, body, headers={"Content-Encoding": "gzip"})))
    server = serve(cluster)
    code, line, rss_kb = _peak_rss_kb(["--url", server.url, "-t", "30"])
    assert (code, line[:78]) == (2, "ES_SNAPSHOT CRITICAL - s-big FAILED 1h ago: disk full disk full disk full disk")
    assert rss_kb < 80 * 1024, rss_kb  # 467 MB before


@pytest.mark.parametrize("chunk", [CHUNK, 4096, 1000, 7])
def test_long_strings_cut_whole_escapes_and_characters_kept(chunk):
    """Escapes, escaped quotes and backslashes and multi-byte characters at
    every place a cut or a chunk boundary can fall: the body stays JSON,
    short strings and the structure are untouched."""
    rng = random.Random(20)
    pieces = ["a", "é", "€", "😀", '"', "\\", "\n", "\u0001", "\\\\", 'x"y']
    long_texts = ["".join(rng.choice(pieces) for _ in range(LONG_STRING // 2 + n)) for n in range(0, 9000, 997)]
    long_texts.append("\\" * (3 * CHUNK + 1) + '"')  # a run of escaped backslashes over whole chunks
    document = {"snapshots": [{"snapshot": f"s{i}", "reason": text, "state": "FAILED", "n": i}
                              for i, text in enumerate(long_texts)], "short": 'a\\"b' * 10}
    for ensure_ascii in (True, False):
        data = json.dumps(document, ensure_ascii=ensure_ascii).encode()
        read = json.loads(_cut(data, chunk))
        assert read["short"] == document["short"]
        for given, got in zip(document["snapshots"], read["snapshots"]):
            assert {k: v for k, v in got.items() if k != "reason"} == {k: v for k, v in given.items()
                                                                          if k != "reason"}
            size = len(json.dumps(given["reason"], ensure_ascii=ensure_ascii))
            if size <= LONG_STRING:
                assert got["reason"] == given["reason"]
            elif got["reason"] != given["reason"] or size > LONG_STRING + 2 * chunk:
                # Cut where a whole chunk held no quote: always past LONG_STRING and two chunks.
                assert got["reason"].endswith("...") and given["reason"].startswith(got["reason"][:-3])
                assert len(got["reason"].encode()) <= KEEP + 3


def test_a_normal_listing_passes_unchanged():
    snaps = [{"snapshot": f"nightly-{i}", "state": "SUCCESS", "reason": "", "indices": [f"logs-{i}"] * 50}
             for i in range(2000)]
    data = json.dumps({"snapshots": snaps}).encode()
    assert _cut(data, CHUNK) == data
