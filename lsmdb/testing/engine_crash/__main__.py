"""``python -m lsmdb.testing.engine_crash``."""

import sys

from lsmdb.testing.engine_crash.cli import main

sys.exit(main())
