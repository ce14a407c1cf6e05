#!/usr/bin/env python3
"""Entry script: runs from a checkout or an installed package, exits 0-3."""
try:
    from plugin.cli import main
except ImportError as exc:  # a missing dependency must not read as WARNING (exit 1)
    print(f"ES_SNAPSHOT UNKNOWN - missing Python module {exc.name or exc}")
    raise SystemExit(3) from None

if __name__ == "__main__":
    main()
