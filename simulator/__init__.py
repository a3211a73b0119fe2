"""The charge-point runtime: a fleet supervisor following the event store, OCPP 1.6J / 2.0.1 charge points."""

import ocpp.messages

# Validate payloads on the event loop rather than in a thread pool: faster per message (no thread hop), and
# the pool stays free for the event store's saves. Validation itself stays on.
ocpp.messages.ASYNC_VALIDATION = False
