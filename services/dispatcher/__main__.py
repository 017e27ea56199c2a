"""`python -m dispatcher`: the same command as `flotilla dispatcher`."""

import sys

import flotilla.kit
from dispatcher.declaration import SERVICE

sys.exit(flotilla.kit.main(SERVICE))
