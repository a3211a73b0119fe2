"""Charging physics: power drawn, the energy register, and the sampled values of both OCPP versions."""

from __future__ import annotations

import pytest

from simulator.meter import Meter, sampled_values_16, sampled_values_201


def test_energy_integrates_power_over_time() -> None:
    meter = Meter(max_power_w=22_000)
    meter.start(now=0.0)
    meter.advance(now=1800.0)  # half an hour at 22 kW
    assert meter.register_wh == 11_000


def test_power_update_caps_the_power_and_never_exceeds_the_model() -> None:
    meter = Meter(max_power_w=11_000)
    meter.start(now=0.0)
    meter.set(now=0.0, limit_w=7_000)
    assert meter.power_w == 7_000
    meter.set(now=0.0, limit_w=50_000)
    assert meter.power_w == 11_000


def test_a_suspended_ev_draws_nothing_and_the_register_stands_still() -> None:
    meter = Meter(max_power_w=7_400)
    meter.start(now=0.0)
    meter.advance(now=3600.0)
    meter.set(now=3600.0, suspended_ev=True)
    meter.advance(now=7200.0)
    assert (meter.power_w, meter.register_wh) == (0, 7_400)
    meter.set(now=7200.0, suspended_ev=False)
    meter.advance(now=9000.0)
    assert meter.register_wh == 11_100


def test_no_energy_flows_outside_a_transaction() -> None:
    meter = Meter(max_power_w=7_400, energy_wh=500.0)
    meter.advance(now=0.0)
    meter.advance(now=3600.0)
    meter.start(now=3600.0)
    meter.stop(now=3600.0)
    meter.advance(now=7200.0)
    assert meter.register_wh == 500


def test_1_6_sampled_values_are_strings_with_units_in_the_configured_order() -> None:
    meter = Meter(max_power_w=22_000, phases=3)
    meter.start(now=0.0)
    meter.advance(now=360.0)
    values = sampled_values_16(meter, ["Power.Active.Import", "Energy.Active.Import.Register", "Current.Import"], "X")
    assert [(v["measurand"], v["value"], v["unit"], v["context"]) for v in values] == [
        ("Power.Active.Import", "22000", "W", "X"),
        ("Energy.Active.Import.Register", "2200", "Wh", "X"),
        ("Current.Import", "31.9", "A", "X"),
    ]


def test_2_0_1_sampled_values_are_numbers_with_a_unit_of_measure() -> None:
    meter = Meter(max_power_w=150_000, current_type="dc", phases=0)
    meter.start(now=0.0)
    values = sampled_values_201(meter, ["Power.Active.Import", "SoC", "Voltage"], "Sample.Periodic")
    assert [(v["measurand"], v["value"], v["unit_of_measure"]["unit"]) for v in values] == [
        ("Power.Active.Import", 150_000.0, "W"),
        ("SoC", 20.0, "Percent"),
        ("Voltage", 400.0, "V"),
    ]


@pytest.mark.parametrize("unknown", ["Power.Factor", "RPM", "Current.Export"])
def test_measurands_a_meter_cannot_measure_are_left_out(unknown: str) -> None:
    meter = Meter(max_power_w=7_400)
    assert sampled_values_16(meter, [unknown, "Voltage"], "X")[0]["measurand"] == "Voltage"
