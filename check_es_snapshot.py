#!/usr/bin/env python3
"""Entry script: runs from a checkout or an installed package, exits 0-3
(plugin/entry.py turns a missing dependency into UNKNOWN)."""
try:
    from plugin.entry import main  # the checkout: plugin/ beside this script
except ImportError as exc:
    if exc.name not in ("plugin", "plugin.entry"):
        raise
    # Installed: the package is check_es_snapshot.  This file is named the
    # same, so drop its own folder from the path before importing it.
    import sys
    sys.path[:] = [p for p in sys.path if p not in ("", sys.path[0])]
    from check_es_snapshot.entry import main

if __name__ == "__main__":
    main()
