"""The charge point's own decisions, pure and synchronous (time passed in), shared by both OCPP versions."""
