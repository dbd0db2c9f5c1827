"""``python -m hybridir_core``: see ``cli``."""

import sys

from hybridir_core.cli import main

sys.exit(main())
