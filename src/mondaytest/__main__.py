"""``python -m mondaytest`` runs the CLI."""

import sys

from mondaytest.cli.app import main

sys.exit(main())
