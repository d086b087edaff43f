# Convenience targets; the README's two commands work without make.
.PHONY: setup demo test lint bench mutation

setup:
	bash .ci/setup

demo: setup
	.venv/bin/edumon demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: setup
	.venv/bin/python bench/writer_throughput.py

# mutation testing of the guarded modules against their unit tests (slow: ~1 mutant/s, one worker)
mutation: setup
	.venv/bin/python bench/mutation.py
