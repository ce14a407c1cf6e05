"""The console script's and the entry script's start: the only module that
imports cli.py, and the only place a missing dependency is turned into
UNKNOWN (exit 3) instead of a traceback and Python's exit 1 (WARNING)."""
from . import NAME


def main():
    try:
        from .cli import main as run
    except ImportError as exc:
        print(f"{NAME} UNKNOWN - missing Python module {exc.name or exc}")
        raise SystemExit(3) from None
    run()
