#!/usr/bin/env python3
"""Entry script: runs from a checkout or an installed package, exits 0-3."""
try:
    try:
        from plugin.cli import main  # the checkout: plugin/ beside this script
    except ImportError as exc:
        if exc.name != "plugin":
            raise
        # Installed: the package is check_es_snapshot.  This file is named the
        # same, so drop its own folder from the path before importing it.
        import sys
        sys.path[:] = [p for p in sys.path if p not in ("", sys.path[0])]
        from check_es_snapshot.cli import main
except ImportError as exc:  # a missing dependency must not read as WARNING (exit 1)
    print(f"ES_SNAPSHOT UNKNOWN - missing Python module {exc.name or exc}")
    raise SystemExit(3) from None

if __name__ == "__main__":
    main()
