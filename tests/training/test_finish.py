"""A run killed anywhere in its last moments (writing the manifest, renaming, removing its working files)
resumes to the finished run, from where it was: never from step 0, never with a half-written file kept."""

import os
import subprocess
import sys
import textwrap

from tests.runs import ROOT, SAMPLE, write_config


def _killed_at(patch: str, *args):
    """Run the CLI with ``patch`` applied first; the patch SIGKILLs the process at the moment it names."""
    code = textwrap.dedent(f"""
        import os, signal, sys
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        {patch}
        from attribcli.cli import main
        sys.argv = ["attrib", *{[str(a) for a in args]!r}]
        main()
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_killed_while_writing_the_manifest_resumes_from_its_checkpoint(tmp_path):
    """Before: the checkpoint was removed before the manifest was written, so a kill there made --resume start
    again from step 0 (silently throwing the finished values away)."""
    ref = write_config(tmp_path / "ref", training__max_steps=6)
    assert _cli("train", ref).returncode == 0
    cfg = write_config(tmp_path / "k", training__max_steps=6)
    r = _killed_at("import attribcli.training.finish as f; f.write_manifest = die", "train", cfg)
    assert r.returncode == -9, r.stderr
    r = _cli("train", cfg, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr and "from step 4" in r.stderr, r.stderr  # its last checkpoint, not step 0
    for f in ("values.npy", "losses.csv", "samples.csv", "steps.csv", "model.pt"):
        assert (tmp_path / "k/run" / f).read_bytes() == (tmp_path / "ref/run" / f).read_bytes(), f


def test_killed_after_the_manifest_completes_without_training_again(tmp_path):
    cfg = write_config(tmp_path)
    r = _killed_at("import attribcli.training.setup as s; s.drop_leftovers = die", "train", cfg)
    assert r.returncode == -9 and (tmp_path / "run.partial/manifest.json").is_file()
    r = _cli("train", cfg, "--resume")
    assert r.returncode == 0 and "already complete" in r.stderr and "steps 1" not in r.stderr, r.stderr
    assert not (tmp_path / "run.partial").exists()
    assert not (tmp_path / "run/checkpoints/last.pt").exists() and not (tmp_path / "run/tally").exists()
    assert _cli("verify", tmp_path / "run").returncode == 0


def test_a_write_killed_before_its_rename_leaves_no_temporary_file_in_the_run(tmp_path):
    """Before: the temporary file of the killed checkpoint write was renamed into the finished run with it."""
    cfg = write_config(tmp_path, training__max_steps=6)
    patch = textwrap.dedent("""
        import attribcli.files as files
        real, seen = os.replace, []
        def replace(src, dst):
            if str(dst).endswith("last.pt"):
                seen.append(dst)
                if len(seen) == 2:
                    die()
            return real(src, dst)
        files.os = type("os", (), {**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")},
                                    "replace": staticmethod(replace)})
    """).replace("\n", "\n        ")
    r = _killed_at(patch, "train", cfg)
    assert r.returncode == -9, r.stderr
    assert list((tmp_path / "run.partial").rglob(".*.tmp")), "the kill left a temporary file: the test bites"
    r = _cli("train", cfg, "--resume")
    assert r.returncode == 0, r.stderr
    assert not list((tmp_path / "run").rglob("*.tmp"))
    assert _cli("train", cfg, "--overwrite").returncode == 0  # the run is attrib's through and through


def test_a_replay_killed_after_its_rename_resumes_as_complete(small_run, tmp_path):
    import shutil

    run = shutil.copytree(small_run, tmp_path / "run")
    gens = SAMPLE / "generations.jsonl"
    patch = ("import shutil; real = shutil.rmtree\n        shutil.rmtree = lambda p, *a, **k: die() "
             "if str(p).endswith('.partial') else real(p, *a, **k)")
    r = _killed_at(patch, "replay", run, "--generations", gens, "--name", "k")
    assert r.returncode == -9 and (run / "valuations/k/manifest.json").is_file()
    assert (run / "valuations/k.partial").is_dir()
    done = _tree(run / "valuations/k")
    r = _cli("replay", run, "--generations", gens, "--name", "k", "--resume")
    assert r.returncode == 0 and "already complete" in r.stderr, r.stderr
    assert not (run / "valuations/k.partial").exists() and _tree(run / "valuations/k") == done
    assert _cli("verify", run).returncode == 0
    os.sync()
