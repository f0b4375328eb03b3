"""The manifest: every output and input hashed at the end of training; any change is found."""

import json

from attribcli.audit.manifest import check_manifest, output_hashes


def test_a_fresh_run_matches_its_manifest(small_run):
    assert check_manifest(small_run) == []
    manifest = json.loads((small_run / "manifest.json").read_text())
    assert set(manifest["outputs"]) == set(output_hashes(small_run))
    assert {"values.npy", "losses.csv", "model.pt", "inputs/ownership.csv"} <= set(manifest["outputs"])
    assert "manifest.json" not in manifest["outputs"]


def test_changed_missing_and_added_files_are_each_named(copied_run):
    (copied_run / "losses.csv").write_text((copied_run / "losses.csv").read_text() + "\n")
    (copied_run / "steps.csv").unlink()
    (copied_run / "extra.txt").write_text("x")
    problems = check_manifest(copied_run)
    assert any(p.startswith("losses.csv: changed since training") for p in problems)
    assert "steps.csv: missing from the run" in problems
    assert "extra.txt: not in the manifest (added after training)" in problems


def test_a_changed_input_is_found(copied_run, tmp_path):
    manifest = json.loads((copied_run / "manifest.json").read_text())
    holders = tmp_path / "holders.csv"
    holders.write_text(open(manifest["inputs"]["holders"]["path"]).read() + "h99,Someone,x@example.org\n")
    manifest["inputs"]["holders"]["path"] = str(holders)
    (copied_run / "manifest.json").write_text(json.dumps(manifest))
    assert any("holders" in p for p in check_manifest(copied_run))
