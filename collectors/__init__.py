"""Streaming and polled collectors; one sub-package per source (see DESIGN.md)."""
