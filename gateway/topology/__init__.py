"""The city network as a graph: what each switch's discovery saw (observations.py), and the
model built from it (nodes, links, ports feeding devices, PoE, shadowing)."""
