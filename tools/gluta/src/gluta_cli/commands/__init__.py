"""Command groups of `gluta`: each module adds its subcommand(s) with `register(subparsers)`."""
