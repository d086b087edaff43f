"""Device-only pieces of the exhibit monitor: clock and sensors (imported by main() only)."""

import time

# MicroPython's epoch is 2000-01-01 on most embedded ports, 1970 on others
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def sync_time():
    """Set the RTC from NTP once Wi-Fi is up; health `ts` is wrong until this succeeds."""
    try:
        import ntptime

        ntptime.settime()
    except Exception as error:
        print(f"ntp failed: {error!r}")


class DeviceClock:
    """monotonic() from ticks_ms (wrap-safe through ticks_diff); unix() from the RTC."""

    def __init__(self):
        self._last = time.ticks_ms()
        self._elapsed_ms = 0

    def monotonic(self):
        now = time.ticks_ms()
        self._elapsed_ms += time.ticks_diff(now, self._last)
        self._last = now
        return self._elapsed_ms / 1000

    def unix(self):
        return time.time() + _EPOCH_OFFSET


class ExhibitSensors:
    """Interactions from a button/beam pin interrupt, errors counted by the exhibit code
    (`note_error`), MCU temperature where the port exposes it (None otherwise), and cpu_pct
    as the busy share of the main loop (MicroPython has no CPU accounting)."""

    def __init__(self, interaction_pin=None):
        self.interactions = 0
        self.errors = 0
        self.cpu_pct = 0.0
        if interaction_pin is not None:
            import machine

            pin = machine.Pin(interaction_pin, machine.Pin.IN, machine.Pin.PULL_UP)
            pin.irq(trigger=machine.Pin.IRQ_FALLING, handler=self._interaction)

    def _interaction(self, _pin):
        self.interactions += 1

    def note_error(self):
        self.errors += 1

    def note_busy(self, busy_ms, period_ms):
        self.cpu_pct = min(100.0, 100.0 * busy_ms / period_ms)

    def read(self):
        return {
            "interactions": self.interactions,
            "errors": self.errors,
            "temp_c": _mcu_temperature(),
            "cpu_pct": self.cpu_pct,
        }


def _mcu_temperature():
    """The MCU's own temperature in degC, or None for no reading (no sensor on this port, or
    the read failed): a failed sensor must not look like 0.0 degC."""
    try:
        import esp32

        if hasattr(esp32, "mcu_temperature"):
            return float(esp32.mcu_temperature())
    except ImportError:
        pass
    except Exception as error:
        print(f"temperature: {error!r}")
        return None
    try:  # RP2040: ADC channel 4 is the internal sensor
        import machine

        volts = machine.ADC(4).read_u16() * 3.3 / 65535
        return 27 - (volts - 0.706) / 0.001721
    except Exception:  # not an RP2040 (no ADC 4), or the read failed
        return None
