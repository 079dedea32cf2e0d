"""Run the user service: `python -m gluta_user [serve | admin-create LOGIN_ID | rotate-keys [--now]]`."""

import sys

from gluta_user.cli import main

if __name__ == "__main__":
    sys.exit(main())
