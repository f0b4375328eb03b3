"""CI runs the README's set-up commands as a user types them, so it cannot pass where a user fails."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):readme.index("## Commands")]
    return re.findall(r"```bash\n(.*?)\n```", quick, re.S)


def test_the_readme_has_the_two_set_up_commands():
    main, tests = _commands()
    assert "attrib train configs/sample.yaml" in main and "attrib payout" in main
    assert tests.startswith("pip install torch==2.13.0 && ") and tests.endswith("&& pytest")


def test_ci_runs_the_readmes_test_command_exactly():
    _, tests = _commands()
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert tests in ci, f".ci/run must run the README's test command as written: {tests}"


def test_every_guarantee_names_tests_that_exist():
    """'What attrib guarantees' names the tests that hold each guarantee: a renamed or deleted test must not
    leave a guarantee held by nothing."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## What attrib guarantees"):]
    section = section[:section.index("\n## ", 3)]
    rows = [ln for ln in section.splitlines() if ln.startswith("| **")]
    assert len(rows) >= 7
    for row in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?", row)
        assert named, f"a guarantee names no test: {row[:60]}"
        for path, test in named:
            assert (ROOT / path).is_file(), path
            if test:
                assert f"def {test}(" in (ROOT / path).read_text(), f"{path}::{test}"
