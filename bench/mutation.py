"""Mutation testing (mutmut 3) of the modules whose tests must fail when their behaviour breaks.

Each module is mutated in its own scratch copy of the work tree (committed or not, untracked
files included; the work tree itself is never touched), against its unit tests only, one
mutant at a time (`--max-children 1`: the machine is shared). mutmut runs for each mutant the
selected tests that execute the mutated function. Prints one table row per module: mutants,
killed, survived (those no test executes, "no tests", among them), timeout (a mutant that made
a test hang counts as killed, as mutmut counts it) and the kill rate; the survivors' diffs go
to <work>/<module>/survivors.txt. `--sample N` mutates 1 in N for a slow module.

Usage: python bench/mutation.py [module ...] [--work DIR] [--max-children N] [--sample N]
  modules: rates interfaces spool writer mqtt_consumer engine cluster (default: all)
  (pip install 'edumon[dev]' for mutmut; `make mutation` runs them all)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Module:
    sources: tuple[str, ...]
    tests: tuple[str, ...]  # globs under the repository root


MODULES = {
    "rates": Module(("collectors/snmp/rates.py",), ("tests/unit/test_snmp_rates*.py",)),
    "interfaces": Module(
        ("collectors/snmp/interfaces.py",),
        ("tests/unit/test_snmp_counters*.py", "tests/unit/test_snmp_interfaces*.py"),
    ),
    "spool": Module(("gateway/storage/spool.py",), ("tests/unit/test_spool*.py",)),
    "writer": Module(("gateway/storage/writer.py",), ("tests/unit/test_writer*.py",)),
    "mqtt_consumer": Module(
        ("gateway/mqtt_consumer.py", "gateway/mqtt_subscriptions.py", "gateway/mqtt_batch.py"),
        ("tests/unit/test_mqtt_consumer*.py", "tests/unit/test_mqtt_malformed_broker.py"),
    ),
    "engine": Module(("gateway/alerts/engine.py",), ("tests/unit/test_alert_engine*.py",)),
    "cluster": Module(
        ("gateway/cluster/rendezvous.py", "gateway/cluster/membership.py"),
        ("tests/unit/test_cluster*.py",),
    ),
}


def scratch_copy(work: Path) -> None:
    """The work tree's files (tracked and untracked, not ignored) copied to `work`."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)


def configure(work: Path, module: Module) -> list[str]:
    """Add mutmut's section to the copy's pyproject.toml; returns the test files selected."""
    sources = [s for s in module.sources if (work / s).is_file()]
    tests = sorted(str(p.relative_to(work)) for g in module.tests for p in work.glob(g))
    section = (
        "\n[tool.mutmut]\n"
        'source_paths = ["gateway", "collectors"]\n'
        f"only_mutate = {json.dumps(sources)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
    )
    with (work / "pyproject.toml").open("a") as f:
        f.write(section)
    return tests


def mutmut(work: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the copy, not the tree
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {work}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# a sample keeps the mutants whose number ends in these digits (mutmut numbers each
# function's mutants 1, 2, ...)
SAMPLE_DIGITS = {2: "02468", 5: "05", 10: "0"}
KILLED = ("killed", "timeout")  # a mutant that made a test hang was caught too


def run_module(name: str, work_root: Path, max_children: int, sample: int) -> Counter[str]:
    """Mutate one module; its mutants counted by outcome (killed, timeout, survived, no
    tests, ...); the survivors' diffs written to survivors.txt."""
    work = work_root / name
    scratch_copy(work)
    if not configure(work, MODULES[name]):
        raise SystemExit(f"{name}: no unit tests match {MODULES[name].tests}")
    chosen = [f"*_mutmut_*{digit}" for digit in SAMPLE_DIGITS.get(sample, "")]
    mutmut(work, "run", "--max-children", str(max_children), *chosen)
    outcomes = dict(
        line.strip().rsplit(": ", 1)
        for line in mutmut(work, "results", "--all", "true").splitlines()
        if ": " in line
    )
    tested = {mutant: outcome for mutant, outcome in outcomes.items() if outcome != "not checked"}
    with (work / "survivors.txt").open("w") as f:
        for mutant, outcome in tested.items():
            if outcome not in KILLED:
                f.write(f"# {outcome}\n{mutmut(work, 'show', mutant)}\n")
    return Counter(tested.values())


def row(name: str, outcomes: Counter[str]) -> str:
    total = sum(outcomes.values())
    killed, timeout = outcomes["killed"], outcomes["timeout"]
    survived = total - killed - timeout
    rate = 100 * (killed + timeout) / total if total else 0.0
    no_tests = f" ({outcomes['no tests']} no tests)" if outcomes["no tests"] else ""
    return f"| {name} | {total} | {killed} | {survived}{no_tests} | {timeout} | {rate:.1f} % |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help=" ".join(MODULES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/edumon-mutation"))
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument(
        "--sample", type=int, choices=sorted(SAMPLE_DIGITS), help="mutate 1 in N (slow modules)"
    )
    args = parser.parse_args()
    if unknown := set(args.modules) - set(MODULES):
        parser.error(f"unknown modules {sorted(unknown)}; known: {' '.join(MODULES)}")
    print("| module | mutants | killed | survived | timeout | killed % |")
    print("|---|---|---|---|---|---|")
    for name in args.modules:
        print(
            row(name, run_module(name, args.work, args.max_children, args.sample or 1)), flush=True
        )
    print(f"survivors' diffs: {args.work}/<module>/survivors.txt")


if __name__ == "__main__":
    main()
