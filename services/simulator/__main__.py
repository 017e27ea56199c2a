"""`python -m simulator`: the same as `flotilla simulator`."""

import sys

from flotilla.cli import main

if __name__ == "__main__":
    sys.exit(main(["simulator", *sys.argv[1:]]))
