"""One module per subcommand of ``python -m crawler`` (see :mod:`crawler.cli`)."""
