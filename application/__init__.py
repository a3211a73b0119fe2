"""Use cases: load aggregates, let them decide, save their events with who caused them."""
