"""Mutation check: the differential tests must fail when the one-request path or a memo's key is broken.

    python tests/mutate.py [--tests tests/test_one_answer.py] [--only NAME]

Each mutation below changes one thing in a copy of the project (a memo key that loses one of its inputs,
a step of the one-request path done otherwise), runs the tests there, and reports whether they failed
(the mutation is *killed*) or passed (it *survived*: the tests miss that kind of defect). Exit 1 if any
survived.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FIND_KEY = "        key = (case, day, meets)\n"
_FOLDED_KEY = "            folded_key = (folded, day, meets)\n"


def _key_without(part):
    """The two memo keys of ``RowIndex.find`` without one of their inputs."""
    raw = {"day": "(case, meets)", "meets": "(case, day)"}.get(part)
    folded = {"day": "(folded, meets)", "meets": "(folded, day)"}.get(part)
    if raw is None:  # one field of the case, by position
        raw = f"(case[:{part}] + case[{part} + 1 :], day, meets)"
        folded = f"(folded[:{part}] + folded[{part} + 1 :], day, meets)"
    return [
        ("estimator/core/matching.py", _FIND_KEY, f"        key = {raw}\n"),
        ("estimator/core/matching.py", _FOLDED_KEY, f"            folded_key = {folded}\n"),
    ]


#: name -> [(file, text, replacement)], each text found exactly once.
MUTATIONS = {
    "memo key without the day": _key_without("day"),
    "memo key without what the case meets (RVUs, a baseline range)": _key_without("meets"),
    **{
        f"memo key without the case's {field}": _key_without(i)
        for i, field in enumerate(("payer", "component", "code", "region", "setting"))
    },
    "scalar where takes the other branch": [
        (
            "estimator/core/arith.py",
            "return ast.IfExp(test=args[0], body=args[1], orelse=args[2])",
            "return ast.IfExp(test=args[0], body=args[2], orelse=args[1])",
        ),
    ],
    "scalar not_ keeps its value": [
        ("estimator/core/arith.py", "return ast.UnaryOp(op=ast.Not(), operand=args[0])", "return args[0]"),
    ],
    "scalar minimum is a maximum": [
        ("estimator/core/arith.py", '    "minimum": _minimum,\n', '    "minimum": _maximum,\n'),
    ],
    "scalar minimum of two names is a maximum": [
        (
            "estimator/core/arith.py",
            'if name == "minimum" else (ast.GtE(), ast.Gt())',
            'if name != "minimum" else (ast.GtE(), ast.Gt())',
        ),
    ],
    "scalar maximum is a minimum": [
        ("estimator/core/arith.py", '    "maximum": _maximum,\n', '    "maximum": _minimum,\n'),
    ],
    "scalar isnan of a name is always false": [
        ("estimator/core/arith.py", "ops=[ast.NotEq()]", "ops=[ast.Eq()]"),
    ],
    "scalar isin is never true": [
        ("estimator/core/arith.py", "ops=[ast.In()]", "ops=[ast.NotIn()]"),
    ],
    "one request's visit ranks ties by the later line": [
        ("estimator/core/single.py", "key=lambda i: (-rows[i][name], i))", "key=lambda i: (-rows[i][name], -i))"),
    ],
    "one request's visit ranks the lowest fee first": [
        ("estimator/core/single.py", "key=lambda i: (-rows[i][name], i))", "key=lambda i: (rows[i][name], i))"),
    ],
    "one request finds a facility rate in the office": [
        ("estimator/core/single.py", "        if applies is False:\n            return -1, False\n", ""),
    ],
    "one request's date period is the one before": [
        ("estimator/core/single.py", "period = bisect.bisect_right(", "period = bisect.bisect_left("),
    ],
    "one request takes a region and a ZIP code together": [
        (
            "estimator/core/single.py",
            '    if both_places(fields.get("region_id", "").strip(), fields.get("zip", "").strip()):\n'
            "        return None\n",
            "",
        ),
    ],
    "one request accepts bilateral for indicator 9": [
        (
            "estimator/core/single.py",
            'if r is None or refuses_bilateral(r["bilateral"], indicators[labels[r["procedure_key"]]]):',
            "if r is None:",
        ),
    ],
    "one request's visit stores the ranked figures in line order": [
        (
            "estimator/core/single.py",
            "for i, values in zip(self.order, ranked, strict=True):",
            "for i, values in enumerate(ranked):",
        ),
    ],
}


def run(tests, names):
    survived = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "project"
            shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".hypothesis"))
            for file, text, replacement in MUTATIONS[name]:
                path = copy / file
                source = path.read_text()
                if source.count(text) != 1:
                    raise SystemExit(f"{name}: the text to change is not found once in {file}")
                path.write_text(source.replace(text, replacement))
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-x",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--hypothesis-profile=no-shrink",
                    *tests,
                ],
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
            )
            killed = result.returncode != 0
            print(f"{'killed  ' if killed else 'SURVIVED'} {name}", flush=True)
            if not killed:
                survived.append(name)
    return survived


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", nargs="+", default=["tests/test_one_answer.py"])
    parser.add_argument("--only", help="run the mutations whose name contains this text")
    args = parser.parse_args()
    names = [n for n in MUTATIONS if args.only is None or args.only in n]
    survived = run(args.tests, names)
    print(f"{len(names) - len(survived)} of {len(names)} mutations killed.")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
