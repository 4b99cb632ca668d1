"""``python -m ztix_adapters_zerotier.emulator --port N --home DIR [--central]``."""

import sys

from ztix_adapters_zerotier.emulator.cli import main

sys.exit(main())
