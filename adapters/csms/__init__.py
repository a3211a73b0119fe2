"""A small OCPP 1.6J / 2.0.1 central system (CSMS): the demo CSMS and the end-to-end test harness."""
