"""The shared reader's "no reading" conventions and the schema's plausibility table, as
tables: what an agent answers, for which field, and what is stored."""

from __future__ import annotations

import pytest

from collectors.snmp import ber
from collectors.snmp.optics import power_value
from collectors.snmp.profile_reader import reading
from collectors.snmp.varbind_values import number
from gateway.plausible import Refused, refusal


def integer(value: int) -> ber.VarBind:
    return ber.VarBind(b"", ber.INTEGER, ber.encode_integer(value))


def gauge(value: int) -> ber.VarBind:
    return ber.VarBind(b"", ber.GAUGE32, ber.encode_unsigned(value))


def octets(value: str) -> ber.VarBind:
    return ber.VarBind(b"", ber.OCTET_STRING, value.encode())


NO_READING_CASES = {
    # name: (varbind, field, the profile's invalid:, what the reader keeps)
    "a temperature": (integer(415), "temp_c", (), 415.0),
    "16-bit all-ones": (gauge(65535), "temp_c", (), None),
    "32-bit all-ones": (gauge(2**32 - 1), "bias_ma", (), None),
    "32-bit extreme": (integer(-(2**31)), "rx_dbm", (), None),
    "-1 where a field cannot be negative": (integer(-1), "cpu_pct", (), None),
    "-1 of a temperature is a reading": (integer(-1), "temp_c", (), -1.0),
    "-1 of a power is a reading (-0.01 dBm in hundredths)": (integer(-1), "rx_dbm", (), -1.0),
    "N/A": (octets("N/A"), "rx_dbm", (), None),
    "empty text": (octets(""), "tx_dbm", (), None),
    "text with a unit": (octets("-2.31 dBm"), "tx_dbm", (), -2.31),
    "noSuchInstance": (ber.VarBind(b"", ber.NO_SUCH_INSTANCE, b""), "temp_c", (), None),
    "a profile's own invalid": (integer(-1000000000), "rx_dbm", (-1000000000,), None),
    "zero is a reading of its own": (integer(0), "temp_c", (), 0.0),
}


@pytest.mark.parametrize("case", NO_READING_CASES)
def test_no_reading_conventions(case: str) -> None:
    varbind, field, invalid, kept = NO_READING_CASES[case]
    assert reading(number(varbind), field, invalid) == kept


POWER_CASES = {
    # name: (value after the column's scale, its unit, field, stored dBm)
    "dBm as it is": (-5.123, "dbm", "rx_dbm", -5.123),
    "the -40 dBm floor is no light": (-40.0, "dbm", "rx_dbm", None),
    "below the floor": (-60.0, "dbm", "tx_dbm", None),
    "just above the floor": (-39.9, "dbm", "rx_dbm", -39.9),
    "1 mW": (1.0, "mw", "tx_dbm", 0.0),
    "0 mW: no light, no log": (0.0, "mw", "rx_dbm", None),
    "0.5012 mW in W": (0.0005012, "w", "rx_dbm", -3.0),
    "a threshold at the floor is a threshold": (-40.0, "dbm", "rx_dbm_low_alarm", -40.0),
    "not a power": (33.5, "dbm", "temp_c", 33.5),
}


@pytest.mark.parametrize("case", POWER_CASES)
def test_power_floor_and_units(case: str) -> None:
    value, unit, field, stored = POWER_CASES[case]
    got = power_value(value, unit, field)
    assert got == (None if stored is None else pytest.approx(stored, abs=0.001))


PLAUSIBLE_CASES = {
    # name: (field, value, refusal or None)
    "a switch at 41.5 degC": ("temp_c", 41.5, None),
    "6553.5 degC (65535 at precision 1)": ("temp_c", 6553.5, "above 150"),
    "a cold cabinet": ("temp_c", -40.0, None),
    "below any thermometer": ("temp_c", -41.0, "below -40"),
    "+12 dBm": ("tx_dbm", 12.0, "above 10"),
    "a threshold has its reading's range": ("rx_dbm_high_alarm", 655.35, "above 10"),
    "bias 250 mA": ("bias_ma", 250.0, "above 200"),
    "a 3.3 V supply": ("voltage_v", 3.3, None),
    "33 V (millivolts taken for volts / 100)": ("voltage_v", 33.0, "above 15"),
    "CPU 101 %": ("cpu_pct", 101.0, "above 100"),
    "memory -3 %": ("mem_pct", -3.0, "below 0"),
    "a field without a range": ("in_bps", 1e12, None),
}


@pytest.mark.parametrize("case", PLAUSIBLE_CASES)
def test_plausibility_table(case: str) -> None:
    field, value, reason = PLAUSIBLE_CASES[case]
    assert refusal(field, value) == (None if reason is None else Refused(field, value, reason))
