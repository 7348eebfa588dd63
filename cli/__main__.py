"""`python -m perpsim.cli ARGS` runs `perpsim ARGS`."""

import sys

from perpsim.cli.main import main

sys.exit(main())
