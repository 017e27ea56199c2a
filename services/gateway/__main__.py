"""`python -m gateway`: the same as `flotilla gateway`."""

from __future__ import annotations

import sys

from flotilla.kit import main
from gateway.declaration import SERVICE

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main(SERVICE))
