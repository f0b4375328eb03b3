"""Licence classes and the training/payment policy a rights society applies to them.

The classes follow the licence taxonomy of the Data Provenance Initiative (Longpre et al., 2023,
"The Data Provenance Initiative: A Large Scale Audit of Dataset Licensing & Attribution in AI"):
a *use* category (commercial / non-commercial / academic-research-only / unspecified) plus
*attribution* and *share-alike* flags. We add *public_domain* so that public-domain works can be
paid into a "commons" line instead of to holders who, by definition, hold no exclusive right.

Permissiveness of ``use``, most to least permissive (``USES``)::

    commercial > non-commercial > research > unspecified

* ``non-commercial`` ranks above ``research``: research is one non-commercial use, so a
  non-commercial licence permits everything a research-only licence does and more
  (DPI likewise treats "academic-only" as the stricter category).
* ``unspecified`` ranks last: an unknown grant is not a grant. Treating it as permissive would let
  ``MIT AND LicenseRef-x`` pass as commercial; ranked last, ``AND`` with an unknown term is
  unknown and ``OR`` prefers any known alternative. Whether unspecified works are trained on at all
  is the policy's call (``LicensePolicy.trainable``); the table never guesses.

No-derivatives (``-ND``) terms are not a DPI axis and are not modelled: ``CC-BY-ND-4.0`` classifies
as commercial with attribution. A society that treats training as an adaptation overrides those ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from attribcli.errors import AttribError
from attribcli.rights.spdx import spdx_ids

__all__ = [
    "PAY_TO",
    "RUN_USES",
    "UNSPECIFIED",
    "USES",
    "Decision",
    "LicenseClass",
    "LicensePolicy",
    "PolicyOutcome",
    "apply_policy",
    "classify",
    "license_mix",
    "permits",
]

Use = Literal["commercial", "non-commercial", "research", "unspecified"]
RunUse = Literal["commercial", "non-commercial", "research"]
PayTo = Literal["holders", "commons", "none"]

USES: tuple[str, ...] = ("commercial", "non-commercial", "research", "unspecified")  # most → least permissive
RUN_USES: tuple[str, ...] = USES[:3]
PAY_TO: tuple[str, ...] = ("holders", "commons", "none")
_RANK = {u: len(USES) - 1 - i for i, u in enumerate(USES)}  # commercial 3 … unspecified 0


@dataclass(frozen=True)
class LicenseClass:
    """What a licence lets a model trainer do (DPI use category) and what it asks in return."""

    use: Use
    attribution: bool
    share_alike: bool
    public_domain: bool

    def __post_init__(self):
        if self.use not in USES:
            raise AttribError(f"unknown licence use class '{self.use}'", field="use",
                              fix=f"use one of {', '.join(USES)}")
        for name in ("attribution", "share_alike", "public_domain"):
            if not isinstance(getattr(self, name), bool):
                raise AttribError(f"{name} must be true or false (got {getattr(self, name)!r})", field=name,
                                  fix="write true or false")


UNSPECIFIED = LicenseClass("unspecified", attribution=False, share_alike=False, public_domain=False)
_PD = LicenseClass("commercial", attribution=False, share_alike=False, public_domain=True)
_FREE = LicenseClass("commercial", attribution=False, share_alike=False, public_domain=False)
_BY = LicenseClass("commercial", attribution=True, share_alike=False, public_domain=False)
_BY_SA = LicenseClass("commercial", attribution=True, share_alike=True, public_domain=False)
_NC = LicenseClass("non-commercial", attribution=True, share_alike=False, public_domain=False)
_NC_SA = LicenseClass("non-commercial", attribution=True, share_alike=True, public_domain=False)

# Hand-checked ids only: anything absent is ``unspecified`` rather than a guess.
_TABLE: dict[str, LicenseClass] = {
    # Public-domain dedications and marks: no conditions, value goes to the commons line.
    **dict.fromkeys(("CC0-1.0", "PDDL-1.0", "CC-PDDC", "CC-PDM-1.0", "Unlicense", "NIST-PD", "NCBI-PD"), _PD),
    # Permissive without an attribution condition (copyright kept, so not public domain).
    **dict.fromkeys(("0BSD", "MIT-0", "WTFPL", "DL-DE-ZERO-2.0"), _FREE),
    # Permissive with attribution (notice / credit must be kept).
    **dict.fromkeys(("MIT", "Apache-1.1", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear",
                     "ISC", "ODC-By-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "OGL-UK-1.0",
                     "OGL-UK-2.0", "OGL-UK-3.0", "OGL-Canada-2.0", "etalab-2.0", "DL-DE-BY-2.0",
                     "NLOD-1.0", "NLOD-2.0"), _BY),
    # Copyleft / share-alike, commercial use allowed.
    **dict.fromkeys(("ODbL-1.0", "CDLA-Sharing-1.0", "MPL-1.1", "MPL-2.0", "MPL-2.0-no-copyleft-exception",
                     "EPL-1.0", "EPL-2.0", "EUPL-1.1", "EUPL-1.2"), _BY_SA),
    "CC-SA-1.0": LicenseClass("commercial", attribution=False, share_alike=True, public_domain=False),
    "NCGL-UK-2.0": _NC,
}
# Creative Commons BY family, versions 1.0-4.0, with jurisdiction ports (CC-BY-SA-2.1-JP, -3.0-IGO, ...).
_CC = re.compile(r"^CC-BY(?P<nc>-NC)?(?P<mod>-SA|-ND)?-(?P<ver>[1-4]\.[0-9])(?:-[A-Za-z]{2,3})?$", re.IGNORECASE)
# GNU family: GPL / LGPL / AGPL any version, -only / -or-later / + and the deprecated -with-...-exception ids.
_GNU = re.compile(r"^(?:A|L)?GPL-[1-3]\.[0-9](?:-only|-or-later|\+)?(?:-with-[A-Za-z0-9]+-exception)?$", re.IGNORECASE)
_GFDL = re.compile(r"^GFDL-1\.[1-3](?:-.*)?$", re.IGNORECASE)
# Responsible AI licences (OpenRAIL-M, CreativeML-OpenRAIL-M, ...): commercial use allowed, use-based
# restrictions must be passed on (share-alike in effect). SPDX 3.27 lists none, so this stays inert until
# a regenerated list adds them; until then such terms arrive as LicenseRef-... and need an override.
_RAIL = re.compile(r"(?:^|-)OpenRAIL(?:-[A-Za-z]+)?(?:-[0-9.]+)?$", re.IGNORECASE)


def _table(leaf: str) -> LicenseClass:
    """One licence id (no operators) → its class; ``+`` ("or later") classifies as the base version."""
    canonical = spdx_ids().get(leaf.lower())
    if canonical is None and leaf.endswith("+"):
        canonical = spdx_ids().get(leaf[:-1].lower())
    if canonical is None:
        return UNSPECIFIED  # LicenseRef-..., DocumentRef-...:LicenseRef-..., unknown, or not an SPDX id
    if canonical in _TABLE:
        return _TABLE[canonical]
    if m := _CC.match(canonical):
        if not 1.0 <= float(m["ver"]) <= 4.0:
            return UNSPECIFIED
        sa = m["mod"] is not None and m["mod"].upper() == "-SA"
        return _NC_SA if (m["nc"] and sa) else _NC if m["nc"] else _BY_SA if sa else _BY
    if _GNU.match(canonical) or _GFDL.match(canonical) or _RAIL.search(canonical):
        return _BY_SA
    return UNSPECIFIED


def _more_permissive(a: LicenseClass, b: LicenseClass) -> LicenseClass:
    """OR: the licensee picks one alternative whole; the wider use wins, then the fewer obligations."""
    def key(c: LicenseClass):
        return (_RANK[c.use], c.public_domain, not c.share_alike, not c.attribution)
    return a if key(a) >= key(b) else b


def _both(a: LicenseClass, b: LicenseClass) -> LicenseClass:
    """AND: both terms bind, so the narrower use and every obligation of either apply."""
    return LicenseClass(use=a.use if _RANK[a.use] <= _RANK[b.use] else b.use,
                        attribution=a.attribution or b.attribution,
                        share_alike=a.share_alike or b.share_alike,
                        public_domain=a.public_domain and b.public_domain)


def _malformed(expr: str, why: str) -> AttribError:
    return AttribError(f"malformed licence expression '{expr}': {why}", field="license",
                       fix="write ids joined by AND / OR / WITH, e.g. 'MIT OR Apache-2.0'")


def _evaluate(expr: str, overrides: Mapping[str, LicenseClass]) -> LicenseClass:
    """Recursive descent with SPDX precedence: WITH binds tightest, then AND, then OR."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        if pos >= len(tokens):
            raise _malformed(expr, "it ends too early")
        pos += 1
        return tokens[pos - 1]

    def leaf(tok: str) -> LicenseClass:
        if tok in ("AND", "OR", "WITH", ")"):
            raise _malformed(expr, f"expected a licence id at '{tok}'")
        return overrides[tok] if tok in overrides else _table(tok)

    def atom() -> LicenseClass:
        tok = take()
        if tok == "(":
            inner = any_of()
            if take() != ")":
                raise _malformed(expr, "unbalanced parentheses")
            cls = inner
        else:
            cls = leaf(tok)
        if peek() == "WITH":  # an exception only adds permissions to the base licence: classify the base
            take()
            exc = take()
            if exc in ("(", ")", "AND", "OR", "WITH"):
                raise _malformed(expr, f"expected an exception id after WITH, got '{exc}'")
        return cls

    def all_of() -> LicenseClass:
        cls = atom()
        while peek() == "AND":
            take()
            cls = _both(cls, atom())
        return cls

    def any_of() -> LicenseClass:
        cls = all_of()
        while peek() == "OR":
            take()
            cls = _more_permissive(cls, all_of())
        return cls

    if not tokens:
        raise _malformed(expr, "it is empty")
    result = any_of()
    if pos != len(tokens):
        raise _malformed(expr, f"unexpected '{tokens[pos]}'")
    return result


@lru_cache(maxsize=4096)
def _classify_cached(license: str) -> LicenseClass:
    return _evaluate(license, {})


def classify(license: str, overrides: Mapping[str, LicenseClass] | None = None) -> LicenseClass:
    """Class of a canonical licence id or expression (as ``rights.canonical_license`` returns it).

    ``overrides`` is keyed by the exact id (or the exact whole expression) and wins over the table, so a
    society can classify its own ``LicenseRef-...`` terms. ``A OR B`` → the more permissive alternative;
    ``A AND B`` → the narrower use with both sets of obligations; ``A WITH exc`` → ``A``.
    """
    license = license.strip()
    if overrides:
        if license in overrides:
            return overrides[license]
        return _evaluate(license, overrides)
    return _classify_cached(license)


def permits(use: str, run_use: str) -> bool:
    """Does a licence of use class ``use`` cover a training run of kind ``run_use``?

    Unspecified covers nothing by this test; the policy decides separately whether to train on it.
    """
    return use != "unspecified" and _RANK[use] >= _RANK[run_use]


def _uses_tuple(value, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise AttribError(f"{name} must be a list of use classes (got {value!r})", field=name,
                          fix=f"list some of {', '.join(USES)}")
    out = tuple(value)
    for u in out:
        if u not in USES:
            raise AttribError(f"unknown use class '{u}'", field=name, fix=f"use some of {', '.join(USES)}")
    return out


@dataclass(frozen=True)
class LicensePolicy:
    """A rights society's rules: what kind of run this is, what may be trained on, what is paid.

    ``trainable`` / ``payable`` list use classes. A class not payable is still valued and reported,
    but paid to nobody (``pay_to="none"``): where that money goes is the caller's decision.
    """

    run_use: RunUse = "commercial"
    trainable: tuple[str, ...] = USES
    payable: tuple[str, ...] = USES
    allow_non_commercial_in_commercial: bool = False
    commons_public_domain: bool = True
    overrides: Mapping[str, LicenseClass] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        if self.run_use not in RUN_USES:
            raise AttribError(f"unknown run_use '{self.run_use}'", field="run_use",
                              fix=f"use one of {', '.join(RUN_USES)}")
        object.__setattr__(self, "trainable", _uses_tuple(self.trainable, "trainable"))
        object.__setattr__(self, "payable", _uses_tuple(self.payable, "payable"))
        for name in ("allow_non_commercial_in_commercial", "commons_public_domain"):
            if not isinstance(getattr(self, name), bool):
                raise AttribError(f"{name} must be true or false (got {getattr(self, name)!r})", field=name,
                                  fix="write true or false")
        if not isinstance(self.overrides, Mapping):
            raise AttribError("overrides must map licence ids to classes", field="overrides",
                              fix="write 'LicenseRef-x: {use: commercial, attribution: true, ...}'")
        for key, value in self.overrides.items():
            if not isinstance(key, str) or not isinstance(value, LicenseClass):
                raise AttribError(f"override {key!r} is not a licence id mapped to a LicenseClass",
                                  field="overrides", fix="key each override by a licence id")
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    @classmethod
    def from_mapping(cls, data: Mapping | None, *, file: str, field: str = "licenses") -> LicensePolicy:
        """Build from a config section; every bad key or value is one AttribError naming file and field."""
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise AttribError(f"expected a mapping (got {type(data).__name__})", file=file, field=field,
                              fix="write the policy keys under it, or remove it for the defaults")
        known = ("run_use", "trainable", "payable", "allow_non_commercial_in_commercial",
                 "commons_public_domain", "overrides")
        for key in data:
            if key not in known:
                raise AttribError(f"unknown key '{key}'", file=file, field=field, fix=f"use {', '.join(known)}")
        kwargs = dict(data)
        overrides = {}
        raw = kwargs.pop("overrides", None) or {}
        if not isinstance(raw, Mapping):
            raise AttribError(f"expected a mapping of licence ids (got {type(raw).__name__})", file=file,
                              field=f"{field}.overrides", fix="write 'LicenseRef-x: {use: commercial, ...}'")
        for lic, spec in raw.items():
            where = f"{field}.overrides.{lic}"
            if not isinstance(spec, Mapping) or set(spec) - {"use", "attribution", "share_alike", "public_domain"}:
                raise AttribError(f"expected use, attribution, share_alike, public_domain (got {spec!r})",
                                  file=file, field=where,
                                  fix="write {use: commercial, attribution: true, share_alike: false}")
            try:
                overrides[str(lic)] = LicenseClass(use=spec.get("use", "unspecified"),
                                                   attribution=spec.get("attribution", False),
                                                   share_alike=spec.get("share_alike", False),
                                                   public_domain=spec.get("public_domain", False))
            except AttribError as e:
                raise AttribError(e.problem, file=file, field=f"{where}.{e.field}", fix=e.fix) from None
        try:
            return cls(**kwargs, overrides=overrides)
        except AttribError as e:
            raise AttribError(e.problem, file=file, field=f"{field}.{e.field}", fix=e.fix) from None


@dataclass(frozen=True, slots=True)
class Decision:
    """One document's outcome. ``pay_to`` is "none" for everything not trained (it earns no value)."""

    id: str
    license: str
    cls: LicenseClass
    train: bool
    pay_to: PayTo
    reason: str


@dataclass(frozen=True)
class PolicyOutcome:
    """Per-document decisions in input order, with counts for reports."""

    policy: LicensePolicy
    decisions: tuple[Decision, ...]

    def __getitem__(self, doc_id: str) -> Decision:
        return self._by_id()[doc_id]

    def _by_id(self) -> dict[str, Decision]:
        return {d.id: d for d in self.decisions}

    @property
    def trained_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.decisions if d.train)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """use class → documents, trained, opted_out, and trained documents per pay_to (all keys present)."""
        out = {u: {"documents": 0, "trained": 0, "opted_out": 0, "holders": 0, "commons": 0, "none": 0}
               for u in USES}
        for d in self.decisions:
            row = out[d.cls.use]
            row["documents"] += 1
            row["opted_out"] += d.reason == "opted out"
            if d.train:
                row["trained"] += 1
                row[d.pay_to] += 1
        return out

    @property
    def reasons(self) -> dict[str, int]:
        """reason → number of documents, most frequent first, ties by reason."""
        c = Counter(d.reason for d in self.decisions)
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _conflict_fix(run_use: str) -> str:
    if run_use == "commercial":
        return ("drop the document, set the policy's allow_non_commercial_in_commercial: true, "
                "or change run_use")
    return "drop the document, or set run_use: research"


def apply_policy(documents: Iterable, policy: LicensePolicy, *, file: str) -> PolicyOutcome:
    """Decide, per document, whether it is trained on and where its value is paid.

    Order: opted out (never trained, never an error) → use class not in ``trainable`` (not trained) →
    licence does not cover the run (non-commercial or research-only in a commercial run, research-only
    in a non-commercial run: AttribError, unless the commercial-run allow flag is set) → class not in
    ``payable`` ("none") → public domain with ``commons_public_domain`` ("commons") → holders.
    ``file`` is the documents file, named in errors.
    """
    decisions: list[Decision] = []
    conflicts: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for doc in documents:
        doc_id = str(doc.id)
        if doc_id in seen:
            raise AttribError(f"document id '{doc_id}' appears twice", file=file, field="id",
                              fix="give every document a unique id")
        seen.add(doc_id)
        try:
            cls = classify(doc.license, policy.overrides)
        except AttribError as e:
            raise AttribError(f"document '{doc_id}': {e.problem}", file=file, field="license", fix=e.fix) from None
        train, pay_to = False, "none"
        if doc.opt_out:
            reason = "opted out"
        elif cls.use not in policy.trainable:
            reason = f"{cls.use} not trainable by policy"
        else:
            train = True
            allowed = cls.use == "unspecified" or permits(cls.use, policy.run_use)
            if not allowed and policy.run_use == "commercial" and policy.allow_non_commercial_in_commercial:
                reason = f"{cls.use} allowed in commercial run by policy"
                allowed = True
            else:
                reason = "licensed" if cls.use != "unspecified" else "unspecified licence, trainable by policy"
            if not allowed:
                conflicts.append((doc_id, doc.license, cls.use))
            if cls.use not in policy.payable:
                pay_to, reason = "none", f"{cls.use} not payable by policy"
            elif cls.public_domain and policy.commons_public_domain:
                pay_to, reason = "commons", "public domain, paid to commons"
            else:
                pay_to = "holders"
        decisions.append(Decision(doc_id, doc.license, cls, train, pay_to, reason))
    if conflicts:
        doc_id, lic, use = conflicts[0]
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise AttribError(f"document '{doc_id}'{more} is licensed '{lic}' ({use} use only), which does not "
                          f"permit a {policy.run_use} training run", file=file, field="license",
                          fix=_conflict_fix(policy.run_use))
    return PolicyOutcome(policy, tuple(decisions))


def license_mix(outcome: PolicyOutcome) -> list[dict]:
    """One row per licence: its class, documents, trained, and where trained documents' value goes.

    ``pay_to`` is the destination of the licence's trained documents (the same for all of them, since it
    depends only on the class and the policy), or "none" if none was trained. Rows are sorted by document
    count (most first), then licence id, so the order never depends on input order.
    """
    rows: dict[str, dict] = {}
    for d in outcome.decisions:
        row = rows.setdefault(d.license, {
            "license": d.license, "use": d.cls.use, "attribution": d.cls.attribution,
            "share_alike": d.cls.share_alike, "public_domain": d.cls.public_domain,
            "documents": 0, "trained": 0, "pay_to": "none"})
        row["documents"] += 1
        if d.train:
            row["trained"] += 1
            row["pay_to"] = d.pay_to
    return sorted(rows.values(), key=lambda r: (-r["documents"], r["license"]))
