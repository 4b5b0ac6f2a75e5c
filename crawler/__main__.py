"""``python -m crawler``: the project's command line."""
import sys

from crawler.cli import main

sys.exit(main())
