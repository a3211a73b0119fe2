"""Runs the benchmark suites: `python -m bench` runs every one in turn;
`python -m bench rest|simulator|recording|replay|commands|smart-charging|tls|dashboard` (one or more names) only those.
A suite that fails is reported and the next one still runs. Each run appends its figures to docs/benchmarks/ and
renders docs/benchmarks.md again; `python -m bench render` only renders it."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

SUITES = ("rest", "simulator", "recording", "replay", "commands", "smart-charging", "tls", "dashboard")


def load(name: str) -> Callable[[], int]:
    if name == "rest":
        from bench import rest

        return rest.main
    if name == "simulator":
        from bench import simulator_suite

        return simulator_suite.main
    if name == "replay":
        from bench import replay

        return replay.main
    if name == "commands":
        from bench import commands

        return commands.main
    if name == "smart-charging":
        from bench import smart_charging

        return smart_charging.main
    if name == "tls":
        from bench import tls_suite

        return tls_suite.main
    if name == "dashboard":
        from bench import dashboard

        return dashboard.main
    from bench import recording

    return recording.main


def main(argv: list[str]) -> int:
    if argv == ["render"]:
        from bench import render

        return render.main()
    unknown = [name for name in argv if name not in SUITES]
    if unknown:
        print(
            f"usage: python -m bench [{'|'.join(SUITES)} ...] | render; unknown: {' '.join(unknown)}", file=sys.stderr
        )
        return 2
    status = 0
    for name in argv or SUITES:
        try:
            result = load(name)()
        except Exception:
            traceback.print_exc()
            print(f"the {name} benchmark failed", file=sys.stderr)
            result = 1
        status = status or result
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
