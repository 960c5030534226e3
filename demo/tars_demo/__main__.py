"""``python -m tars_demo``."""

import sys

from tars_demo import main

sys.exit(main())
