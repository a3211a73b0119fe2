"""The domain: aggregates, value objects and their invariants. Pure: no I/O, no framework, no clock."""
