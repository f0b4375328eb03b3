"""The valuation: everything a statement or a value table needs from a finished run, read once.

``attrib payout`` and ``attrib value`` open the run, build one ``Valuation`` and hand it down the
pipeline: allocation (money/payout.py), settlement (money/settlement.py), rendering (reports/). Each
piece is computed on first use and kept, so no stage goes back to the run directory for its own copy,
and a CSV statement still never parses the documents' metadata (millions of JSON lines) it does not use.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from attribcli.errors import AttribError
from attribcli.posttrain import payees as P
from attribcli.posttrain.aggregate import count_non_finite
from attribcli.posttrain.rundir import PAYEE_VALUES, Run
from attribcli.valuation import values as V


class Valuation:
    def __init__(self, run: Run):
        self._run = run
        self._checked = False  # the value table scanned for NaN / inf (_check_values)

    # --------------------------------------------------------------------------------- the run itself
    @property
    def run(self) -> Run:
        """The opened run directory this valuation reads."""
        return self._run

    @property
    def path(self) -> Path:
        return self._run.path

    @property
    def name(self) -> str:
        return self._run.path.name

    @property
    def valuation(self) -> str | None:
        """The replay these values come from (``valuations/NAME``); None: the run's training-time generations."""
        return self._run.valuation

    @property
    def approximate(self) -> bool:
        """Values from the gradient index (``attrib query``), not from the trajectory itself."""
        return bool((self._run.valuation_manifest or {}).get("approximate"))

    @property
    def per_payee(self) -> bool:
        """Values per payee only (``attrib query --per payee``): no table over samples, documents or licences."""
        return self._run.payee_values is not None

    def _require_samples(self, what: str) -> None:
        if self.per_payee:
            raise AttribError(f"valuation '{self.valuation}' holds values per payee only, so it has no {what}",
                              file=str(self._run.values_folder), field="--valuation",
                              fix="use it for holder values and payouts, or query the generations again without "
                                  "--per payee")

    @property
    def index_check(self) -> dict | None:
        """An index query's measured error on the run's training-time generations (query.py), if it had any."""
        return (self._run.valuation_manifest or {}).get("check")

    @property
    def config_path(self) -> Path:
        return self._run.path / "config.yaml"

    @property
    def manifest(self) -> dict:
        return self._run.manifest

    @cached_property
    def manifest_sha256(self) -> str:
        return self._run.manifest_sha256

    @property
    def method(self) -> dict:
        return self._run.manifest.get("method", {})

    # ------------------------------------------------------------------------------- inputs, as trained
    @property
    def holders(self) -> pd.DataFrame:
        return self._run.holders

    @property
    def documents(self) -> pd.DataFrame:
        return self._run.documents

    @property
    def generations(self) -> pd.DataFrame:
        return self._run.generations

    @cached_property
    def generations_source(self) -> str:
        """Where the generations (and their revenues) came from, for error messages."""
        if self._run.valuation is not None:  # the valuation's own copy: the file it was replayed from may be gone
            return str(self._run.values_folder / "generations.jsonl")
        return self._run.manifest.get("inputs", {}).get("generations", {}).get("path", "generations")

    @cached_property
    def generation_ids(self) -> list[str]:
        return V.generation_ids(self._run)

    @cached_property
    def holder_info(self) -> dict[str, dict[str, str]]:
        return {str(r["holder_id"]): dict(r) for r in self._run.holders.to_dict("records")}

    @cached_property
    def extra_columns(self) -> list[str]:
        """Holder columns beyond id, name and contact: carried into the reports."""
        return [c for c in self._run.holders.columns if c not in ("holder_id", "name", "contact")]

    @cached_property
    def holder_ids(self) -> set[str]:
        return set(self._run.holders["holder_id"].astype(str))

    @cached_property
    def payee_of(self) -> dict[str, str]:
        return P.payee_of(self._run)

    @cached_property
    def merged_holders(self) -> list[tuple[str, str]]:
        return P.merged_holders(self._run)

    @cached_property
    def license_of(self) -> dict[str, str]:
        return dict(zip(self.documents["id"].astype(str), self.documents["license"]))

    @cached_property
    def holder_of_documents(self) -> dict[str, str]:
        return V.holder_of_documents(self._run)

    @cached_property
    def trained_per_license(self) -> pd.Series:
        """Documents not opted out, per licence."""
        d = self.documents
        return d[~d["opt_out"].astype(bool)].groupby("license").size()

    @cached_property
    def excluded_documents(self) -> pd.DataFrame:
        return V.excluded_documents(self._run)

    @cached_property
    def escrow_documents(self) -> pd.DataFrame:
        return V.escrow_documents(self._run)

    def value_sources(self, doc_ids) -> dict[str, tuple[str, float]]:
        return V.value_sources(self._run, doc_ids)

    # ------------------------------------------------------------------------------------------ values
    @property
    def sample_values(self) -> np.ndarray:
        """``[samples × generations]``, memory-mapped: read in chunks, never held. Checked finite once first."""
        self._require_samples("values per sample")
        self._check_values()
        return self._run.values

    def _check_values(self) -> None:
        """One pass over the value table: NaN or inf in it is damage, named as such (one line, exit 2), never
        rendered as a number or handed to the allocation (whose exact arithmetic refuses it)."""
        if self._checked:
            return
        table = self._run.values if self._run.values is not None else self._run.payee_values
        bad = count_non_finite(table)
        if bad:
            raise AttribError(f"holds {bad} NaN or infinite value{'s' if bad > 1 else ''}: the run was damaged",
                              file=str(self._run.values_folder / self._table_name), field="values",
                              fix="run 'attrib verify' on it, then train (or replay) it again")
        self._checked = True

    @property
    def _table_name(self) -> str:
        return PAYEE_VALUES if self.per_payee else "values.npy"

    def _finite(self, table: pd.DataFrame) -> pd.DataFrame:
        """An aggregate of the value table, refused when not finite: a non-finite sum means a non-finite entry
        (the scan says how many) or entries so large their sum overflows, which no real value table holds."""
        if not np.isfinite(table.to_numpy()).all():
            self._check_values()
            raise AttribError("its values are too large to add up: the run was damaged",
                              file=str(self._run.values_folder / "values.npy"), field="values",
                              fix="run 'attrib verify' on it, then train (or replay) it again")
        return table

    @property
    def samples(self) -> pd.DataFrame:
        return self._run.samples

    @cached_property
    def ownership(self) -> pd.DataFrame:
        return P.ownership(self._run)

    @cached_property
    def holder_values(self) -> pd.DataFrame:
        if self.per_payee:
            self._check_values()
            return pd.DataFrame(np.asarray(self._run.payee_values).T, index=pd.Index(self._run.payees, name="payee_id"),
                                columns=self.generation_ids)
        return self._finite(V.holder_values(self._run, own=self.ownership))

    @property
    def parts(self) -> bool:
        """Whether the values are split into shared and specific parts (the run had ``data.reference``)."""
        return self._run.parts

    @cached_property
    def holder_shared(self) -> pd.DataFrame:
        """``[payees × generations]``: the part of each holder's value its generation shares with the reference
        texts (inrun/shared.py); the specific part is ``holder_values − holder_shared``."""
        self._require_parts()
        return self._finite(V.holder_values(self._run, own=self.ownership, table=self._run.shared))

    @cached_property
    def holder_reference(self) -> pd.DataFrame:
        """Per payee: ``value``, its value for the reference texts (their mean loss) summed over the run's steps;
        ``step_share``, its samples' shares of each step's positive reference value, summed (inrun/shared.py)."""
        self._require_parts()
        t = self._finite(V.holder_values(self._run, own=self.ownership, table=self._run.reference))
        t.columns = ["value", "step_share"]
        return t

    @cached_property
    def holder_tokens(self) -> pd.Series:
        """Tokens each payee's documents were trained on (tokens × steps trained, by ownership share)."""
        trained = (self.samples["tokens"] * self.samples["steps_trained"]).to_numpy(dtype=np.float64)[:, None]
        return V.holder_values(self._run, own=self.ownership, table=trained).iloc[:, 0].rename("tokens")

    def part_values(self, part: str) -> np.ndarray:
        """``[samples × generations]`` of one part: ``total`` (the values), ``shared`` or ``specific``."""
        if part == "total":
            return self.sample_values
        self._require_parts()
        shared = np.asarray(self._run.shared)
        return shared if part == "shared" else np.asarray(self.sample_values) - shared

    def holder_part(self, part: str) -> pd.DataFrame:
        """``[payees × generations]`` of one part (``total``, ``shared``, ``specific``)."""
        if part == "total":
            return self.holder_values
        return self.holder_shared if part == "shared" else self.holder_values - self.holder_shared

    def license_part(self, part: str) -> pd.DataFrame:
        """``[licences × generations]`` of one part (``total``, ``shared``, ``specific``)."""
        if part == "total":
            return self.license_values
        self._require_parts()
        shared = self._finite(V.license_values(self._run, table=self._run.shared))
        return shared if part == "shared" else self.license_values - shared

    def _require_parts(self) -> None:
        if not self.parts:
            raise AttribError("the run was trained without reference texts, so its values have no shared and "
                              "specific parts", file=str(self.config_path), field="data.reference",
                              fix="train with data.reference (README, Method: shared and specific value), or "
                                  "use the total")

    @cached_property
    def document_values(self) -> pd.DataFrame:
        self._require_samples("values per document")
        return self._finite(V.document_values(self._run))

    @cached_property
    def license_values(self) -> pd.DataFrame:
        self._require_samples("values per licence")
        return self._finite(V.license_values(self._run))

    @property
    def losses(self) -> pd.DataFrame:
        return self._run.losses

    @property
    def fidelity(self) -> dict | None:
        """Per-step fidelity of the values (training/fidelity.py); None for runs made before it was measured."""
        return self._run.summary.get("fidelity")

    @cached_property
    def efficiency(self) -> pd.DataFrame:
        return V.efficiency(self._run)
