"""A month of history in seconds: what a real edumon would have written, on an accelerated
clock, from the simulators' own models, with scripted outages (see scenario.py)."""
