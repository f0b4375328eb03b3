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
