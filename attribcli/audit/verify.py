"""``attrib verify``: prove a run and a report were not altered, by re-deriving them.

1. Every file hash in the run's manifest is recomputed (outputs and the original inputs).
2. A report is parsed for the spec it carries, rendered again from the run, and compared byte for
   byte; the first differing line is reported.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from attribcli.audit.manifest import VALUATIONS, check_manifest, output_hashes
from attribcli.errors import AttribError
from attribcli.files import sha256_file
from attribcli.money import ledger as ledgers
from attribcli.money.ledger import check_chain, settled_fields
from attribcli.posttrain.aggregate import count_non_finite
from attribcli.posttrain.rundir import MANIFEST, PAYEE_VALUES, open_run, valuations
from attribcli.posttrain.survey import survey_problems, surveys
from attribcli.reports.merkle import check_proof_document
from attribcli.reports.render import render
from attribcli.reports.spec import MD_MARK, ReportSpec
from attribcli.reports.statement import build
from attribcli.valuation.valuation import Valuation

_CSV_BY = {"sample": "sample", "holder_id": "holder", "license": "license", "generation_id": "generation"}


def read_spec(text: str, where: str) -> tuple[ReportSpec, str]:
    """(the spec a report was made with, the run manifest hash it names)."""
    bad = AttribError("not an attrib report (no parameters found)", file=where,
                      fix="pass a report written by 'attrib value' or 'attrib payout'")
    text = text.removeprefix("\ufeff")  # a spreadsheet's byte-order mark: the comparison still sees it
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
            params = {**doc["parameters"], "kind": doc["attrib_report"], "format": "json"}
            return ReportSpec.from_params(params), doc["run"]["manifest_sha256"]
        except (ValueError, KeyError, TypeError):
            raise bad from None
    for line in reversed(text.splitlines()):
        if line.startswith(MD_MARK) and line.endswith(" -->"):
            try:
                doc = json.loads(line[len(MD_MARK):-4])
                return ReportSpec.from_params({**doc["parameters"], "format": "md"}), doc["run_manifest_sha256"]
            except (ValueError, KeyError, TypeError):
                raise bad from None
    try:
        return _csv_spec(list(csv.reader(io.StringIO(text))), bad)
    except (csv.Error, ValueError, KeyError, IndexError, TypeError):  # an edited CSV whose parameters do not parse
        raise bad from None


def _csv_spec(rows: list[list[str]], bad: AttribError) -> tuple[ReportSpec, str]:
    if len(rows) < 2 or "run_manifest_sha256" not in rows[0]:
        raise bad
    first = dict(zip(rows[0], rows[1]))
    from attribcli.reports.cells import unsafe_cell  # the quote the CSV put before a formula-like cell

    if "survey" in rows[0] and "estimator" in rows[0]:  # a survey's statement (reports/survey.py)
        spec = ReportSpec(kind="payout", format="csv", currency=first["currency"], stages=first.get("stages") or None,
                          shared=first.get("shared") or None,
                          platform_fee=float(first["platform_fee"]) if first.get("platform_fee") else None,
                          period=unsafe_cell(first.get("period", "")) or None, survey=unsafe_cell(first["survey"]),
                          valuation=unsafe_cell(first["valuation"]), auxiliary=first["auxiliary"])
    elif "revenue_mode" in rows[0]:
        spec = ReportSpec(kind="payout", format="csv", currency=first["currency"], detail="generation_id" in rows[0],
                          revenue=first["revenue_total"] if first["revenue_mode"] == "total" else None,
                          stages=first.get("stages") or None, shared=first.get("shared") or None,
                          platform_fee=float(first["platform_fee"]) if first.get("platform_fee") else None,
                          minimum_payout=first.get("minimum_payout") or None,
                          floor=first.get("floor") or None, cap=first.get("cap") or None,
                          period=unsafe_cell(first.get("period", "")) or None,
                          opted_out=_flagged_from_rows(rows),
                          claims=tuple(tuple(c.rsplit(":", 1)) for c in unsafe_cell(first["escrow_claims"]).split(";"))
                          if first.get("escrow_claims") else None,
                          carried_in=_carried_from_rows(rows), valuation=first.get("valuation") or None)
    elif rows[0][0] in _CSV_BY:
        spec = ReportSpec(kind="value", format="csv", by=_CSV_BY[rows[0][0]], valuation=first.get("valuation") or None,
                          part=first.get("part") or "total")
    else:
        raise bad
    return spec, first["run_manifest_sha256"]


def _carried_from_rows(rows: list[list[str]]) -> tuple | None:
    """A per-payee CSV carries each payee's carried_in_minor; a detail CSV cannot carry balances."""
    header = rows[0]
    if "carried_in_minor" not in header:
        return None
    i, p = header.index("carried_in_minor"), header.index("payee_id")
    from attribcli.reports.cells import unsafe_cell

    pairs = tuple((unsafe_cell(r[p]), int(r[i])) for r in rows[1:] if len(r) > i and r[i] not in ("", "0"))
    return pairs or None


def _flagged_from_rows(rows: list[list[str]]) -> tuple | None:
    header = rows[0]
    if "opted_out_after_training" not in header:
        return None
    i, p = header.index("opted_out_after_training"), header.index("payee_id")
    from attribcli.reports.cells import unsafe_cell

    ids = sorted({unsafe_cell(r[p]) for r in rows[1:] if len(r) > i and r[i] == "yes"})
    return tuple(ids) or None


def first_difference(expected: str, actual: str) -> str:
    exp, act = expected.splitlines(), actual.splitlines()
    for i, (e, a) in enumerate(zip(exp, act), start=1):
        if e != a:
            return f"line {i}: report has {a[:120]!r}, the run gives {e[:120]!r}"
    if len(exp) != len(act):
        return f"report has {len(act)} lines, the run gives {len(exp)}"
    return "line endings or trailing whitespace differ"


def check_valuation(run_dir: Path, name: str) -> list[str]:
    """A valuation's files against its own manifest, and its manifest against the run's."""
    folder = run_dir / VALUATIONS / name
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    actual = output_hashes(folder)
    for rel, digest in sorted(manifest.get("outputs", {}).items()):
        if rel not in actual:
            problems.append(f"{VALUATIONS}/{name}/{rel}: missing from the valuation")
        elif actual[rel] != digest:
            problems.append(f"{VALUATIONS}/{name}/{rel}: changed since the replay wrote it")
    for rel in sorted(set(actual) - set(manifest.get("outputs", {}))):
        problems.append(f"{VALUATIONS}/{name}/{rel}: not in the valuation's manifest (added after the replay)")
    if manifest.get("run_manifest_sha256") != sha256_file(run_dir / MANIFEST):
        problems.append(f"{VALUATIONS}/{name}: made from another state of the run (its run manifest hash differs)")
    return problems + [x for table in ("values.npy", PAYEE_VALUES)
                       for x in non_finite(folder / table, f"{VALUATIONS}/{name}/{table}")]


def non_finite(path: Path, name: str) -> list[str]:
    """A value table holding NaN or inf is damage to report, whether or not its hash was updated with it
    (an unreadable one is the manifest check's finding)."""
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
        bad = count_non_finite(values) if values.ndim == 2 else 0
    except (OSError, ValueError, EOFError):  # EOFError: an emptied .npy
        return []
    return [f"{name}: holds {bad} NaN or infinite value{'s' if bad > 1 else ''}"] if bad else []


def _read_text(path: Path, field: str, what: str) -> str:
    """A file verify was handed, as UTF-8 text exactly as stored (no newline translation: a CR inside a quoted
    CSV cell is part of the report); a missing or undecodable one is bad input (one line, exit 2)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise AttribError("not UTF-8 text", file=str(path), field=field,
                          fix=f"pass {what} as attrib wrote it (UTF-8)") from None
    except OSError as exc:
        raise AttribError(f"cannot read it ({exc.strerror or type(exc).__name__})", file=str(path), field=field,
                          fix=f"pass {what}") from None


def verify(run_dir: Path, report: Path | None = None, valuation: str | None = None) -> list[str]:
    """Every problem found, in order; an empty list means the run, its valuations (and report) are intact.
    The values a report is re-derived from are the valuation it names (``--valuation`` must agree)."""
    run_dir = Path(run_dir)
    spec = text = claimed = None
    if report is not None:
        report = Path(report)
        if not report.is_file():
            raise AttribError(f"report not found: {report}", field="REPORT", fix="pass the report file to check")
        text = _read_text(report, "REPORT", "the report to check")
        spec, claimed = read_spec(text, str(report))
        if valuation is not None and spec.valuation != valuation:
            raise AttribError(f"the report is made from valuation {spec.valuation or '(training-time)'}, not "
                              f"{valuation}", file=str(report), field="--valuation",
                              fix="leave --valuation out: verify reads the one the report names")
        valuation = spec.valuation
    try:
        val = Valuation(open_run(run_dir, valuation, check=False))  # every difference is listed below
    except AttribError as exc:  # a run file too damaged to read: the manifest says which, and that is the finding
        try:
            damaged = check_manifest(run_dir)
        except (OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError, KeyError):
            damaged = []  # the manifest itself is what cannot be read: the open's own line says so
        if not damaged:
            raise exc from None
        return damaged + [f"the run cannot be read: {exc.line()}"]
    problems = check_manifest(run_dir)
    if (run_dir / "values.npy").is_file():
        problems += non_finite(run_dir / "values.npy", "values.npy")
    for name in valuations(run_dir):
        problems += check_valuation(run_dir, name)
    for name in surveys(run_dir):
        problems += survey_problems(run_dir, name)
    if report is not None:
        if claimed != val.manifest_sha256:
            problems.append(f"{report}: made from another run (manifest {claimed[:12]}…, "
                            f"this run {val.manifest_sha256[:12]}…)")
        try:
            expected = render(val, spec)
        except AttribError as exc:  # a run too damaged to re-derive from is itself the finding
            return problems + [f"{report}: cannot be re-derived from the run: {exc.line()}"]
        if expected != text:
            problems.append(f"{report}: differs from the report re-derived from the run: "
                            f"{first_difference(expected, text)}")
    return problems


def verify_line(proof_path: Path, *, root: str | None, size: int | None, report: Path | None) -> list[str]:
    """Problems with one payee's line proof: it must verify, and its root and size must be the statement's
    (given, or read from a statement REPORT that was itself re-derived from the run)."""
    proof_path = Path(proof_path)
    if not proof_path.is_file():
        raise AttribError(f"proof file not found: {proof_path}", field="--line",
                          fix="pass the JSON written by 'attrib payout ... --proof-for PAYEE'")
    try:
        doc = json.loads(proof_path.read_text(encoding="utf-8"))
    except ValueError:
        raise AttribError("not JSON", file=str(proof_path), field="--line",
                          fix="pass the JSON written by 'attrib payout ... --proof-for PAYEE'") from None
    if report is not None and root is None:
        root, size = _published_root(Path(report))
    if root is None:
        raise AttribError("no root to check the line against", field="--root",
                          fix="pass the statement's published --root and --size, or RUN_DIR and the statement REPORT")
    ok, reason = check_proof_document(doc, expected_root=root, expected_size=size)
    return [] if ok else [f"{proof_path}: {reason}"]


def _published_root(report: Path) -> tuple[str, int]:
    text = _read_text(report, "REPORT", "the JSON or Markdown payout statement")
    none = AttribError("the statement publishes no Merkle root", file=str(report), field="REPORT",
                       fix="use a JSON or Markdown payout statement")
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
            return str(doc["merkle"]["root"]), int(doc["merkle"]["size"])
        except (ValueError, KeyError, TypeError):
            raise none from None
    import re

    m = re.search(r"Merkle root `([0-9a-f]{64})` over its (\d+) lines", text)
    if not m:
        raise none
    return m.group(1), int(m.group(2))


def verify_ledger(path: Path, *, run_dir: Path | None, report: Path | None) -> tuple[list[str], str]:
    """(problems, what was checked): the ledger's chain is intact, keyed under ``ATTRIB_SIGNING_KEY`` when it is
    set, and (with a statement REPORT) its entry matches the statement."""
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"ledger not found: {path}", field="--ledger",
                          fix="pass the ledger the statements settled against")
    ledger = ledgers.read(path)
    key = ledgers.signing_key()
    problems = [f"{path}: {p}" for p in check_chain(ledger, key=key)]
    keyed = sum("entry_hmac" in e for e in ledger["entries"])
    checked = (f"chain of {len(ledger['entries'])} entries intact, each entry's HMAC checked with "
               f"{ledgers.KEY_VAR}" if key is not None else
               f"chain of {len(ledger['entries'])} entries intact"
               + (f"; {keyed} entries' HMACs NOT checked ({ledgers.KEY_VAR} is not set)" if keyed else
                  " (unkeyed: anyone could have recomputed its hashes; post with "
                  f"{ledgers.KEY_VAR} set to key it)"))
    if report is None or run_dir is None:
        return problems, checked
    spec, _ = read_spec(_read_text(report, "REPORT", "the statement the ledger settled"), str(report))
    val = Valuation(open_run(run_dir, spec.valuation, check=False))
    try:
        stmt = build(val, spec)
    except AttribError as exc:  # a run too damaged to re-derive the statement from is itself the finding
        return problems + [f"{report}: cannot be re-derived from the run: {exc.line()}"], checked
    sid = stmt.id
    entry = next((e for e in ledger.get("entries", []) if e.get("statement") == sid), None)
    if entry is None:
        return problems + [f"{path}: statement {sid} was never settled in this ledger"], checked
    for name, value in settled_fields(stmt.root, stmt.settlement).items():
        if entry.get(name) != value:
            problems.append(f"{path}: the entry for statement {sid} has a different {name} than the statement")
    return problems, checked + "; the statement's settlement recorded"
