"""Every command that reads a run checks what it reads against the manifest first (exit 1, one line naming
the file, nothing written): an edited run pays nothing."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.posttrain.rundir import RunAltered, check_reads
from tests.runs import ROOT, SAMPLE


def _invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def _edit_revenue(run):
    path = run / "inputs/generations.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["revenue"] = "1000000.00"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _edit_values(run):
    values = np.load(run / "values.npy")
    values[0, 0] += 1.0
    np.save(run / "values.npy", values)


def _edit_ownership(run):
    path = run / "inputs/ownership.csv"
    rows = path.read_text().splitlines()
    rows[1] = ",".join(rows[1].split(",")[:1] + ["h01"] + rows[1].split(",")[2:])  # a document paid to another
    path.write_text("\n".join(rows) + "\n")


def _edit_holders(run):
    path = run / "inputs/holders.csv"
    path.write_text(path.read_text().replace("h02,", "h02x,", 1) if "h02," in path.read_text()
                    else path.read_text() + "\n")


EDITS = {"inputs/ownership.csv": _edit_ownership, "inputs/holders.csv": _edit_holders,
         "inputs/generations.jsonl": _edit_revenue, "values.npy": _edit_values,
         "samples.csv": lambda run: (run / "samples.csv").write_text((run / "samples.csv").read_text() + "\n"),
         "config.yaml": lambda run: (run / "config.yaml").write_text((run / "config.yaml").read_text() + "#\n")}


@pytest.mark.parametrize("name", list(EDITS))
def test_payout_and_value_refuse_an_edited_run_naming_the_file(copied_run, tmp_path, name):
    """Before: an edited ownership, holders table, revenue or value table changed the money, exit 0, and the
    statement carried the run's genuine manifest hash."""
    EDITS[name](copied_run)
    out = tmp_path / "s.csv"
    for args in (["payout", copied_run, "--revenue-from-generations", "-o", out], ["value", copied_run, "-o", out],
                 ["payout", copied_run, "--revenue", "10", "--ledger", tmp_path / "l.json", "-o", out]):
        r = _invoke(*args)
        assert r.exit_code == 1, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and name in r.output, r.output
        assert not out.exists() and not (tmp_path / "l.json").exists()


def test_a_file_added_beside_the_values_is_refused(copied_run):
    shutil.copy(copied_run / "values.npy", copied_run / "inputs" / "values.npy")  # harmless: not read
    assert _invoke("value", copied_run).exit_code == 0
    (copied_run / "values.npy").unlink()
    r = _invoke("value", copied_run)
    assert r.exit_code == 1 and "values.npy" in r.output and "missing" in r.output


def test_check_reads_skips_what_the_run_never_had_and_refuses_what_was_added(copied_run):
    check_reads(copied_run, ("values_order2.npy",))  # a first-order run has none: nothing to check
    (copied_run / "values_order2.npy").write_bytes(b"x")
    with pytest.raises(RunAltered, match="not in the run's manifest"):
        check_reads(copied_run, ("values_order2.npy",))


def test_a_forged_manifest_still_names_another_run(copied_run, tmp_path):
    """Whoever edits the values and recomputes the manifest's hash makes a statement naming another manifest:
    the published hash of the genuine run no longer matches (and verify against the genuine run fails)."""
    from attribcli.files import sha256_file

    genuine = sha256_file(copied_run / "manifest.json")
    _edit_values(copied_run)
    manifest = json.loads((copied_run / "manifest.json").read_text())
    manifest["outputs"]["values.npy"] = sha256_file(copied_run / "values.npy")
    (copied_run / "manifest.json").write_text(json.dumps(manifest))
    r = _invoke("payout", copied_run, "--revenue", "10", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["run"]["manifest_sha256"] != genuine


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def test_generate_and_replay_refuse_an_edited_run(copied_run, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "p1", "prompt": "The harbour"}) + "\n")
    blob = bytearray((copied_run / "model.pt").read_bytes())
    blob[-10] ^= 1
    (copied_run / "model.pt").write_bytes(bytes(blob))
    r = _cli("generate", copied_run, "--prompts", prompts, "-o", tmp_path / "g.jsonl")
    assert r.returncode == 1 and "model.pt" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "g.jsonl").exists()
    r = _cli("replay", copied_run, "--generations", SAMPLE / "generations.jsonl", "--name", "k")
    assert r.returncode == 1 and "model.pt" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (copied_run / "valuations").exists()


def test_payout_from_an_edited_valuation_is_refused(copied_run, tmp_path):
    r = _cli("replay", copied_run, "--generations", SAMPLE / "generations.jsonl", "--name", "k")
    assert r.returncode == 0, r.stderr
    folder = copied_run / "valuations" / "k"
    _edit_values(folder)
    r = _invoke("payout", copied_run, "--valuation", "k", "--revenue", "10")
    assert r.exit_code == 1 and "valuations/k/values.npy" in r.output, r.output


@pytest.mark.parametrize("args", [["--format", "md"], ["--format", "json"], ["--proof-for", "h01"],
                                  ["--holder", "h01", "--format", "json"], ["--format", "md", "--plot", "-o", "S.md"]])
def test_the_value_tables_hash_is_confirmed_before_any_output(copied_run, tmp_path, args):
    """value and payout hash the value table on a thread while they compute (at 10 million samples it is
    7.5 GiB); nothing they make from it may leave the process before that hash is confirmed."""
    _edit_values(copied_run)
    args = [str(tmp_path / a) if a == "S.md" else a for a in args]
    r = CliRunner().invoke(main, ["payout", str(copied_run), "--revenue", "10", *args])
    assert r.exit_code == 1 and "values.npy" in r.stderr and r.stdout == "", (r.stdout, r.stderr)
    assert not list(tmp_path.glob("S.*"))


def test_an_altered_table_is_reported_as_altered_not_as_what_parsing_it_tripped_on(copied_run):
    np.save(copied_run / "values.npy", np.zeros((3, 2)))  # wrong shape: open_run's own check would fire first
    r = _invoke("payout", copied_run, "--revenue", "10")
    assert r.exit_code == 1 and "changed since the run was written" in r.output, r.output


@pytest.mark.parametrize("name", ["values_shared.npy", "values_reference.npy"])
def test_an_edited_or_removed_part_table_is_refused(tmp_path, name):
    from tests.runs import reference_run

    run = reference_run(tmp_path)
    table = np.load(run / name)
    table[0, 0] += 1.0  # one sample's shared part moved: the specific part (and the money) would follow
    np.save(run / name, table)
    out = tmp_path / "s.csv"
    r = _invoke("payout", run, "--revenue", "10", "-o", out)
    assert r.exit_code == 1 and name in r.output and len(r.output.strip().splitlines()) == 1
    (run / name).unlink()
    r = _invoke("value", run, "--part", "shared", "-o", out)
    assert r.exit_code == 1 and name in r.output and "missing" in r.output and not out.exists()
