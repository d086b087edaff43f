"""Simulators for every device kind, with fault injection."""
