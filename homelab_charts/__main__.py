"""``python -m homelab_charts`` is the ``homelab-charts`` command."""

import sys

from homelab_charts.cli import main

sys.exit(main())
