"""Runs every benchmark suite in turn."""

from __future__ import annotations

import sys

from bench import rest


def main() -> int:
    for suite in (rest.main,):
        status = suite()
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
