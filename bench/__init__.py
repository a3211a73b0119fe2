"""Benchmarks against real server processes; `make bench` (= `python -m bench`) runs them all."""
