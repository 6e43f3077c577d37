"""Subcommands of the ``spinodoid`` command line, one module each (see :mod:`spinodoid.cli`)."""
