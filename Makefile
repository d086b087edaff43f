# Convenience targets; the README's two commands work without make.
.PHONY: setup demo test lint bench mutation dead-code

setup:
	bash .ci/setup

demo: setup
	.venv/bin/edumon demo

test: setup
	.venv/bin/python -m pytest -q -n 2 --dist loadfile

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: setup
	.venv/bin/python bench/writer_throughput.py

# mutation testing of the guarded modules against their unit tests (slow: ~1 mutant/s, one worker)
mutation: setup
	.venv/bin/python bench/mutation.py

# names nothing uses, the tests counted as users (a list of places to look, not a gate);
# pydantic validators, asyncio protocol and paho callbacks and pytest's names are used by name
dead-code: setup
	.venv/bin/vulture gateway collectors simulators dashboards firmware tests bench \
	  --min-confidence 60 --ignore-decorators "@field_validator,@model_validator,@pytest.fixture" \
	  --ignore-names "model_config,connection_made,connection_lost,datagram_received,data_received,error_received,collect,describe,on_*,exc_type,exc,tb,no_wrap,overflow,*_env,test_*,pytest_*,pytestmark,optionxform"
