"""The deploy as a program: one subcommand per stage CD runs (``python scripts/deploy.py --help``).

This branch registers only the analysts' subcommands (:mod:`slim_ci`: ``ci-build``, ``docs-site``).
"""

from __future__ import annotations

import argparse
import sys

import slim_ci


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scripts/deploy.py", description=__doc__)
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    slim_ci.add_subcommand(subparsers)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
