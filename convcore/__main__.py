"""``python -m convcore``: the same commands as the ``convcore`` script."""

import sys

from convcore._cli import main

sys.exit(main())
