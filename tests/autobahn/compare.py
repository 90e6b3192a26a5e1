#!/usr/bin/env python3
"""Compares an Autobahn (kosoku) report with the committed expected results.

usage: compare.py REPORT_DIR EXPECTED_JSON [--update] [PATTERN...]

Every case's `behavior` and `behaviorClose` must equal the expected ones; a case missing on either side is a
difference too. PATTERNs (`12.2.*`, as given to the runner) restrict both sides to the cases the run selected.
With --update, writes the report's results as the new expectations instead (merged into the file's other cases when
PATTERNs restrict the run).
"""
import fnmatch
import json
import sys
from pathlib import Path


def results(report_dir: Path) -> dict:
    index = json.loads((report_dir / "index.json").read_text())
    # One agent (the server under test), keyed by its address.
    (cases,) = index.values()
    return {case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]} for case, r in cases.items()}


def case_key(case: str):
    return tuple(int(part) for part in case.split("."))


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report_dir, expected_path, patterns = Path(args[0]), Path(args[1]), args[2:]

    def selected(case: str) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(case, p) for p in patterns)

    got = {case: r for case, r in results(report_dir).items() if selected(case)}
    everything = json.loads(expected_path.read_text()) if expected_path.exists() else {}
    if "--update" in sys.argv:
        merged = {case: r for case, r in everything.items() if not selected(case)} | got
        ordered = {case: merged[case] for case in sorted(merged, key=case_key)}
        expected_path.write_text(json.dumps(ordered, indent=1) + "\n")
        print(f"wrote {len(got)} expected results to {expected_path}")
        return 0
    expected = {case: r for case, r in everything.items() if selected(case)}
    differences = []
    for case in sorted(set(got) | set(expected), key=case_key):
        if got.get(case) != expected.get(case):
            differences.append(f"  {case}: expected {expected.get(case)}, got {got.get(case)}")
    counts = {}
    for r in got.values():
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    print(f"{len(got)} cases: " + ", ".join(f"{n} {b}" for b, n in sorted(counts.items())))
    if differences:
        print(f"{len(differences)} differ from {expected_path}:")
        print("\n".join(differences))
        return 1
    print(f"all match {expected_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
