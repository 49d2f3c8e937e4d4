"""Subcommands of the ``srsaoa`` command: one module each, with ``register(subparsers)``."""
