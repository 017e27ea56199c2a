"""`python -m persister`: the same as `flotilla persister`."""

import sys

from flotilla.kit import main
from persister.declaration import SERVICE

sys.exit(main(SERVICE))
