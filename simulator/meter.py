"""Charging physics: the power a connector draws and the energy register that integrates it, and the sampled
values a meter reports for the configured measurands (OCPP 1.6 and 2.0.1 shapes).

Pure logic: time comes in as monotonic seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.chargepoint.smart_charging import AC_VOLTAGE, DC_VOLTAGE

BATTERY_WH = 60_000.0  # the simulated EV's battery, for SoC
START_SOC = 20.0
FREQUENCY_HZ = 50.0
TEMPERATURE_C = 25.0
UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Energy.Active.Import.Interval": "Wh",
    "Power.Active.Import": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Temperature": "Celsius",
    "Frequency": None,  # Hz has no UnitOfMeasure in 1.6; 2.0.1 says "Hz"
}


@dataclass
class Meter:
    """One connector's meter: what the EV draws now and the energy delivered so far (Wh, a lifetime register)."""

    max_power_w: int
    current_type: str = "ac"
    phases: int = 3
    energy_wh: float = 0.0
    limit_w: int | None = None  # power-update: what the charger offers at most
    schedule_limit_w: float | None = None  # smart charging: the connector's share of the composite limit
    drawing: bool = False  # a transaction is delivering energy
    suspended_ev: bool = False  # the EV stopped drawing (ev-stops-energy)
    session_start_wh: float = 0.0
    _since: float | None = None

    @property
    def offered_w(self) -> int:
        limits = [limit for limit in (self.limit_w, self.schedule_limit_w) if limit is not None]
        return int(min([self.max_power_w, *limits]))

    @property
    def power_w(self) -> int:
        return self.offered_w if self.drawing and not self.suspended_ev else 0

    def advance(self, now: float) -> None:
        """Integrates the current power up to `now`; call it before any change of power or any reading."""
        if self._since is not None and now > self._since:
            self.energy_wh += self.power_w * (now - self._since) / 3600.0
        self._since = now

    def start(self, now: float) -> None:
        self.advance(now)
        self.drawing, self.suspended_ev = True, False
        self.session_start_wh = self.energy_wh

    def stop(self, now: float) -> None:
        self.advance(now)
        self.drawing, self.suspended_ev = False, False

    def set(self, now: float, *, limit_w: int | None = None, suspended_ev: bool | None = None) -> None:
        self.advance(now)
        if limit_w is not None:
            self.limit_w = limit_w
        if suspended_ev is not None:
            self.suspended_ev = suspended_ev

    def limit_to(self, now: float, watts: float | None) -> None:
        """The charging profiles' limit from `now` on (None: no limit beyond the hardware's)."""
        if watts != self.schedule_limit_w:
            self.advance(now)
            self.schedule_limit_w = watts

    @property
    def register_wh(self) -> int:
        return int(self.energy_wh)

    def readings(self, measurands: list[str]) -> list[tuple[str, float, str | None]]:
        """(measurand, value, unit) for the measurands this meter can measure, in the order configured."""
        voltage = DC_VOLTAGE if self.current_type == "dc" else AC_VOLTAGE
        lines = max(1, self.phases) if self.current_type == "ac" else 1
        soc = min(100.0, START_SOC + (self.energy_wh - self.session_start_wh) * 100.0 / BATTERY_WH)
        values = {
            "Energy.Active.Import.Register": float(self.register_wh),
            "Power.Active.Import": float(self.power_w),
            "Power.Offered": float(self.offered_w),
            "Current.Import": round(self.power_w / voltage / lines, 1),
            "Current.Offered": round(self.offered_w / voltage / lines, 1),
            "Voltage": voltage,
            "SoC": round(soc, 1),
            "Temperature": TEMPERATURE_C,
            "Frequency": FREQUENCY_HZ,
        }
        return [(name, values[name], UNITS[name]) for name in measurands if name in values]


def sampled_values_16(meter: Meter, measurands: list[str], context: str) -> list[dict]:
    """1.6 SampledValue items: values are strings, the unit an UnitOfMeasure (omitted where none fits)."""
    items = []
    for name, value, unit in meter.readings(measurands):
        item = {"value": _text(value), "context": context, "measurand": name}
        if unit is not None:
            item["unit"] = unit
        if name in ("Power.Active.Import", "Current.Import", "Energy.Active.Import.Register", "Voltage"):
            item["location"] = "Outlet"
        if name == "SoC":
            item["location"] = "EV"
        items.append(item)
    return items


def sampled_values_201(meter: Meter, measurands: list[str], context: str) -> list[dict]:
    """2.0.1 SampledValueType items: values are numbers, the unit inside unitOfMeasure."""
    items = []
    for name, value, unit in meter.readings(measurands):
        item: dict = {"value": value, "context": context, "measurand": name}
        item["unit_of_measure"] = {"unit": unit or "Hz"}
        if name == "SoC":
            item["location"] = "EV"
        items.append(item)
    return items


def measurand_list(raw: str | None) -> list[str]:
    return [name.strip() for name in (raw or "").split(",") if name.strip()]


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
