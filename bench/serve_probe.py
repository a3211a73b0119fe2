"""A diagnostic wrapper for `ocpplab-gateway` (no change to the gateway itself): runs `adapters.cli` with its
arguments, and meanwhile notes
- every garbage collection that takes longer than GC_REPORT_MS (generation, duration, objects collected)
- every stall of the event loop longer than STALL_MS: a watchdog thread samples the loop thread's stack every
  SAMPLE_MS while a tick the loop schedules every TICK_MS is late, and reports the stack seen most often

Reports are `PROBE ...` lines on stderr, written as they happen and summed up at exit. An experiment: SIGUSR2 runs a
full collection and then `gc.freeze()` (every object alive then is never scanned again), to see what the collector's
pauses cost once a fleet is up. Used by bench/commands.py with BENCH_SERVE_PROBE=1 (or =freeze, which sends SIGUSR2
once the fleet is booted). Run: `python -m bench.serve_probe serve --host H --port P`.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from typing import Any

GC_REPORT_MS = 10.0
STALL_MS = 50.0
TICK_MS = 5.0
SAMPLE_MS = 2.0
STACK_DEPTH = 14

gc_started: dict[str, float] = {}
gc_totals: Counter[int] = Counter()
gc_seconds: Counter[int] = Counter()
last_tick = time.monotonic()
loop_thread: int | None = None


def report(line: str) -> None:
    print(f"PROBE {time.time():.3f} {line}", file=sys.stderr, flush=True)


def on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        gc_started["at"] = time.perf_counter()
        return
    took = time.perf_counter() - gc_started.pop("at", time.perf_counter())
    generation = info.get("generation", -1)
    gc_totals[generation] += 1
    gc_seconds[generation] += took
    if took * 1000 >= GC_REPORT_MS:
        tracked = len(gc.get_objects())
        report(f"gc gen{generation} {took * 1000:.1f} ms collected {info.get('collected')} (tracked {tracked})")


def stack_of(thread_id: int) -> str:
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "?"
    entries = traceback.extract_stack(frame)[-STACK_DEPTH:]
    return " <- ".join(f"{'/'.join(e.filename.split('/')[-2:])}:{e.lineno} {e.name}" for e in reversed(entries))


def watchdog() -> None:
    stalled_since: float | None = None
    seen: Counter[str] = Counter()
    while True:
        time.sleep(SAMPLE_MS / 1000)
        if loop_thread is None:
            continue
        late = time.monotonic() - last_tick
        if late * 1000 > TICK_MS + STALL_MS / 2:
            if stalled_since is None:
                stalled_since, seen = time.time() - late, Counter()
            seen[stack_of(loop_thread)] += 1
        elif stalled_since is not None:
            took = (time.time() - stalled_since) * 1000
            if took >= STALL_MS and seen:
                stack, count = seen.most_common(1)[0]
                report(f"stall {took:.0f} ms from {stalled_since:.3f} ({count}/{sum(seen.values())} samples): {stack}")
            stalled_since = None


class ProbedPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()

        def tick() -> None:
            global last_tick, loop_thread
            last_tick = time.monotonic()
            loop_thread = threading.get_ident()
            loop.call_later(TICK_MS / 1000, tick)

        loop.call_soon(tick)
        return loop


def freeze(*_: Any) -> None:
    started = time.perf_counter()
    gc.collect()
    kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    gc.freeze()
    took = (time.perf_counter() - started) * 1000
    report(f"gc.collect() + gc.freeze() took {took:.0f} ms (with a census): {gc.get_freeze_count()} objects frozen")
    report("most common tracked types: " + ", ".join(f"{name} {count}" for name, count in kinds.most_common(25)))


def main() -> None:
    signal.signal(signal.SIGUSR2, freeze)
    gc.callbacks.append(on_gc)
    asyncio.set_event_loop_policy(ProbedPolicy())
    threading.Thread(target=watchdog, name="probe-watchdog", daemon=True).start()
    sys.argv = ["adapters.cli", *sys.argv[1:]]
    import runpy

    try:
        runpy.run_module("adapters.cli", run_name="__main__", alter_sys=True)
    finally:
        summary = ", ".join(f"gen{gen} {gc_totals[gen]}x {gc_seconds[gen] * 1000:.0f} ms" for gen in sorted(gc_totals))
        report(f"gc totals: {summary}")


if __name__ == "__main__":
    main()
