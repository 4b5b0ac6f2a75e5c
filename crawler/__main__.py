"""``python -m crawler``: the project's command line."""
import sys

try:
    from crawler.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: nothing done yet
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
