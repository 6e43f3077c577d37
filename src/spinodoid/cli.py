"""The ``spinodoid`` command line: one subcommand per task (docs/method.md §7).

Each subcommand lives in ``spinodoid._cli.<name>`` with ``register(subparsers)`` and
``run(args) -> int``; add a name to :data:`COMMANDS` to publish a new one.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[str, ...] = ("generate", "diffusivity", "predict", "design", "export")

_DESCRIPTION = """\
Inverse design of anisotropic spinodoid materials with prescribed diffusivity
(Röding et al., Sci Rep 2022).

Structures are thresholded Gaussian random fields described by
theta = (a_x, a_y, a_z, eps): three length scales (fractions of the domain
length; larger a = longer features along that axis) and the porosity eps,
plus a random seed. Run `spinodoid COMMAND --help` for each command.
"""


class _VersionAction(argparse.Action):
    """``--version``: prints the installed version, looked up only when the option is given."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version"
        )

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        import spinodoid

        print(f"{parser.prog} {spinodoid.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="spinodoid",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"spinodoid._cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen subcommand; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"spinodoid {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
