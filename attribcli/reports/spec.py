"""The spec a report is made from, which the report carries, so ``attrib verify`` can make it again.

Every report is a pure function of (valuation, spec): no clock, no environment. Each format carries its
spec (JSON: ``parameters``; Markdown: a closing HTML comment; CSV: parameter columns).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

MD_MARK = "<!-- attrib-report: "


@dataclass(frozen=True)
class ReportSpec:
    kind: str                      # "value" | "payout"
    format: str                    # "csv" | "md" | "json"
    by: str = "holder"             # value reports: sample | holder | generation | license
    revenue: str | None = None     # payout: total to split evenly across generations (None: per generation)
    currency: str = "USD"
    detail: bool = False           # payout CSV: one row per payee × generation
    stages: str | None = None      # payout: override the run's payout.stages
    platform_fee: float | None = None  # payout: override the run's payout.platform_fee
    minimum_payout: str | None = None  # payout: override the run's payout.minimum_payout
    carried_in: tuple | None = None    # payout: ((payee, minor units), ...) carried from the ledger
    holder: str | None = None          # payout: the statement one payee is sent
    plot: str | None = None            # payout md: file name of the PNG written next to the statement
    sign: bool = False                 # payout md/json: HMAC-SHA256 with the key in ATTRIB_SIGNING_KEY
    floor: str | None = None           # payout: override the run's payout.floor
    cap: str | None = None             # payout: override the run's payout.cap
    period: str | None = None          # payout: the period the statement covers, e.g. "2026-Q3"
    opted_out: tuple | None = None     # payout: holders who opted out after this run was trained (flagged)
    claims: tuple | None = None        # payout: ((document, holder), ...) escrow documents claimed (ledger)
    valuation: str | None = None       # the run's valuation (replay) the report is made from; None: training-time
    part: str = "total"                # value reports: total | specific | shared (runs trained with data.reference)
    shared: str | None = None          # payout: override the run's payout.shared
    survey: str | None = None          # payout: the survey (RUN/surveys/NAME) the statement estimates the period from
    auxiliary: str | None = None       # payout --survey: index (difference estimator) | none (Horvitz-Thompson)

    PAYOUT_ONLY = ("revenue", "currency", "detail", "stages", "platform_fee", "minimum_payout", "carried_in", "holder",
                   "plot", "sign", "floor", "cap", "period", "opted_out", "claims", "shared", "survey",
                   "auxiliary")

    @classmethod
    def from_params(cls, params: dict) -> "ReportSpec":
        ci, oo, cl = params.get("carried_in"), params.get("opted_out"), params.get("claims")
        return cls(**{**params, "carried_in": tuple((str(p), int(a)) for p, a in ci) if ci else None,
                      **({"opted_out": tuple(oo)} if oo else {}),
                      **({"claims": tuple((str(d), str(h)) for d, h in cl)} if cl else {})})

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not (k == "by" and self.kind == "payout")
                and not (k in self.PAYOUT_ONLY and self.kind == "value") and not (k == "valuation" and v is None)
                and not (k == "part" and (v == "total" or self.kind == "payout"))
                and not (k in ("shared", "survey", "auxiliary") and v is None)}  # as before parts and surveys


def mark(spec: ReportSpec, manifest_sha256: str) -> str:
    """The closing comment of a Markdown report: its spec and the run it was made from."""
    return MD_MARK + json.dumps({"parameters": spec.to_dict(), "run_manifest_sha256": manifest_sha256},
                                sort_keys=True) + " -->"
