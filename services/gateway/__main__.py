"""`python -m gateway`: the same as `flotilla gateway`."""

from __future__ import annotations

import sys

from flotilla.cli import main

if __name__ == "__main__":
    sys.exit(main(["gateway", *sys.argv[1:]]))
