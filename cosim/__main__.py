"""``python -m cosim``: the ``cosim`` command."""

import sys

from cosim.cli.main import main

sys.exit(main())
