"""``python -m twiliosig``: the command line (see :mod:`twiliosig.cli`)."""

import sys

from .cli import main

sys.exit(main())
