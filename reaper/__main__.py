"""`python -m reaper [--once]`: run the reaper."""

from __future__ import annotations

import argparse

from outlast.settings import load_or_exit
from reaper import process


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reaper", description=__doc__)
    parser.add_argument("--once", action="store_true", help="one pass, print counts, exit")
    args = parser.parse_args()
    process.main(load_or_exit("reaper"), once=args.once)


if __name__ == "__main__":
    main()
