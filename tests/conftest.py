import importlib.util
import sys
from pathlib import Path

import pytest


def pytest_configure(config):
    """One line, not an ImportError in every test module, when pytest runs where the set-up installed nothing."""
    if importlib.util.find_spec("torch") is None:
        pytest.exit(f"torch is not installed for {sys.executable}: run the README's test command as a whole: "
                    "pip install torch==2.13.0 && pip install -e \".[test,hf,plot]\" && ruff check . && pytest",
                    returncode=2)


@pytest.fixture(autouse=True)
def _deterministic():
    import torch

    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """One small real run (the sample data, a 1-layer GPT, 4 steps), trained once for every test that only
    reads a run. Tests that change a run copy it first (``copied_run``)."""
    from click.testing import CliRunner

    from attribcli.cli import main
    from tests.runs import write_config

    base = tmp_path_factory.mktemp("small_run")
    r = CliRunner().invoke(main, ["train", str(write_config(base))])
    assert r.exit_code == 0, r.output
    return base / "run"


@pytest.fixture
def copied_run(small_run, tmp_path):
    import shutil

    return Path(shutil.copytree(small_run, tmp_path / "run"))
