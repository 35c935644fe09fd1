"""Subcommands of the `accord` CLI, one module per area, loaded lazily by `accord.cli`."""
