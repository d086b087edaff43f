"""Load every file of a profile library in the Datadog/Kentik/Netdata format (a checkout of
kentik/snmp-profiles, Datadog's default_profiles...) as edumon does, and report what it cannot
read: files with problems (file:line), and the symbols it passes over, by reason.

Usage: python bench/profile_library.py DIR   (DIR e.g. snmp-profiles/profiles/kentik_snmp)
The library's files are read from where they are, never copied into this repository.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from collectors.snmp.ecosystem.library import PROFILE_KEYS, Library, load_library
from collectors.snmp.ecosystem.translate import translate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    library = Library(args.directory)
    profile_files = [
        p for p in library.files if PROFILE_KEYS.search(p.read_text("utf-8", "replace"))
    ]
    profiles, problems = load_library(args.directory)
    bad_files = {problem.split(":", 1)[0] for problem in problems}
    readable = [p for p in profile_files if str(p) not in bad_files]
    semantic = Counter(field for profile in profiles for field in profile.device)
    print(f"library        {args.directory}")
    print(f"files          {len(library.files)} YAML, {len(profile_files)} with profile keys")
    print(f"readable       {len(readable)} of {len(profile_files)} files")
    print(f"profiles       {len(profiles)} (with Kentik's sysDescr redirections)")
    print(f"device fields  {dict(sorted(semantic.items()))}")
    print(f"snmp_metric    {sum(len(p.metrics) for p in profiles)} metrics in all")
    print(f"problems       {len(problems)} in {len(bad_files)} files")
    for problem in problems:
        print(f"  {problem}")
    skipped = _skipped(args.directory)
    print(f"passed over    {sum(skipped.values())} symbols")
    for reason, count in skipped.most_common():
        print(f"  {count:5d}  {reason}")
    return 0


def _skipped(directory: Path) -> Counter[str]:
    """The symbols the translation passes over, by reason (the file names left out)."""
    library = Library(directory)
    reasons: Counter[str] = Counter()
    for path in library.files:
        metrics = library.metrics(path)
        if metrics is None:
            continue
        for skipped in translate(metrics).skipped:
            reasons[re.sub(r"^[^:]+: ", "", skipped)] += 1
    return reasons


if __name__ == "__main__":
    raise SystemExit(main())
