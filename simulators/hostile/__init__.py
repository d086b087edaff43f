"""Hostile senders for tests and the soak (bench/soak_hostile.py): what an attacker, or a
broken device, sends edumon's HTTP port and trap socket."""
