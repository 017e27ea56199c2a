"""`python -m simulator`: the same command as `flotilla simulator`."""

import sys

from flotilla.kit import main
from simulator.declaration import SERVICE

if __name__ == "__main__":
    sys.exit(main(SERVICE))
