"""One real node per engine and test session, started when its first test
needs it and stopped when its last test is done (pytest runs the tests of
one session-scoped parameter together), so one JVM runs at a time."""
import os

import pytest

from tests.engine import harness


def pytest_configure(config):
    config.addinivalue_line("markers", "secured: the engine tier's secured nodes (TLS, users, roles; "
                            "tests/engine/test_secured.py); python -m pytest -m 'engine and secured'")


def pytest_generate_tests(metafunc):
    if "node" in metafunc.fixturenames:
        ids = [engine.id for engine in harness.selected()]
        if os.environ.get(harness.URL_ENV):
            ids.append("url")
        metafunc.parametrize("node", ids, indirect=True, scope="session")


@pytest.fixture(scope="session")
def node(request):
    if request.param == "url":
        return harness.ExternalNode(os.environ[harness.URL_ENV])
    engine = next(e for e in harness.ENGINES if e.id == request.param)
    try:
        started = harness.start(engine)
    except harness.EngineUnavailable as exc:
        if harness.required():
            pytest.fail(f"{engine.id} did not start: {exc}", pytrace=False)
        pytest.skip(f"{engine.id} not available: {exc}")
    request.addfinalizer(started.stop)
    return started


@pytest.fixture
def writable(node):
    """A node the test may change: not a cluster of the user's own."""
    if node.readonly:
        pytest.skip("changes the cluster: only on the engines the tier starts")
    node.reset()
    return node
