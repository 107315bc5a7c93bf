"""`python -m worker [--concurrency N]`: run one worker process."""

from __future__ import annotations

import argparse

from outlast.settings import load_or_exit
from worker import process


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=None, help="tasks run at once")
    args = parser.parse_args()
    if args.concurrency is not None and not 1 <= args.concurrency <= 1000:
        parser.error("--concurrency must be between 1 and 1000")
    process.main(load_or_exit("worker"), args.concurrency)


if __name__ == "__main__":
    main()
