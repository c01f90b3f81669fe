"""``python -m emgspasm``: the same command line as ``emgspasm``."""

import sys

from .cli import main

sys.exit(main())
