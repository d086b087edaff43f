"""Mutation testing (mutmut 3) of the modules whose tests must fail when their behaviour breaks.

Each module is mutated in its own scratch copy of the work tree (committed or not, untracked
files included; the work tree itself is never touched), against its unit tests only, one
mutant at a time (`--max-children 1`: the machine is shared). mutmut runs for each mutant the
selected tests that execute the mutated function. Prints one table row per module: mutants,
killed, survived, timeout (a mutant that made a test hang counts as killed, as mutmut counts
it) and the kill rate; the survivors' diffs go to <work>/<module>/survivors.txt.

Usage: python bench/mutation.py [module ...] [--work DIR] [--max-children N]
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


def run_module(name: str, work_root: Path, max_children: int) -> dict[str, int]:
    work = work_root / name
    scratch_copy(work)
    if not configure(work, MODULES[name]):
        raise SystemExit(f"{name}: no unit tests match {MODULES[name].tests}")
    mutmut(work, "run", "--max-children", str(max_children))
    mutmut(work, "export-cicd-stats")
    stats: dict[str, int] = json.loads((work / "mutants/mutmut-cicd-stats.json").read_text())
    survivors = [
        line.split(":")[0].strip()
        for line in mutmut(work, "results").splitlines()
        if line.strip().endswith(": survived")
    ]
    with (work / "survivors.txt").open("w") as f:
        for survivor in survivors:
            f.write(mutmut(work, "show", survivor) + "\n")
    return stats


def row(name: str, stats: dict[str, int]) -> str:
    total, killed, timeout = stats["total"], stats["killed"], stats["timeout"]
    survived = total - killed - timeout
    rate = 100 * (killed + timeout) / total if total else 0.0
    return f"| {name} | {total} | {killed} | {survived} | {timeout} | {rate:.1f} % |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help=" ".join(MODULES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/edumon-mutation"))
    parser.add_argument("--max-children", type=int, default=1)
    args = parser.parse_args()
    if unknown := set(args.modules) - set(MODULES):
        parser.error(f"unknown modules {sorted(unknown)}; known: {' '.join(MODULES)}")
    print("| module | mutants | killed | survived | timeout | killed % |")
    print("|---|---|---|---|---|---|")
    for name in args.modules:
        print(row(name, run_module(name, args.work, args.max_children)), flush=True)
    print(f"survivors' diffs: {args.work}/<module>/survivors.txt")


if __name__ == "__main__":
    main()
