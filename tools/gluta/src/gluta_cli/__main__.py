"""Run the `gluta` command as `python -m gluta_cli`."""

import sys

from gluta_cli.main import main

sys.exit(main())
