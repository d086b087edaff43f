"""Runs at boot on the device (after boot.py)."""

import exhibit_monitor

exhibit_monitor.main()
