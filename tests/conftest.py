from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
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
