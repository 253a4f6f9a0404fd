"""`python -m client` runs `chat`."""

import sys

from client.cli import main

sys.exit(main())
