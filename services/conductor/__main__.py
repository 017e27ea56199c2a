"""`python -m conductor`: the same as `flotilla conductor`."""

import sys

from conductor.declaration import SERVICE
from flotilla.kit import main

sys.exit(main(SERVICE))
