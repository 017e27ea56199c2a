"""`python -m persister`: the same as `flotilla persister`."""

import sys

from flotilla.cli import main

sys.exit(main(["persister", *sys.argv[1:]]))
