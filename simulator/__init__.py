"""The charge-point runtime (OCPP 1.6J / 2.0.1 over WebSocket). Arrives with the simulator issue."""
