"""check_es_snapshot: snapshot backups of Elasticsearch and OpenSearch."""
__version__ = "0.1.0"
# The check's name: the first word of every line the plugin prints (here so
# that nothing needs more than the package to print it).
NAME = "ES_SNAPSHOT"


def main():
    """The console script's entry: a missing dependency is UNKNOWN (exit 3),
    not a traceback and Python's exit 1, which reads as WARNING."""
    try:
        from .cli import main as run
    except ImportError as exc:
        print(f"{NAME} UNKNOWN - missing Python module {exc.name or exc}")
        raise SystemExit(3) from None
    run()
