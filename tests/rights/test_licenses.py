"""Licence classes and the society's policy: the table, expressions, and every policy rule."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from attribcli.errors import AttribError
from attribcli.rights.licenses import (
    UNSPECIFIED,
    USES,
    LicenseClass,
    LicensePolicy,
    apply_policy,
    classify,
    license_mix,
    permits,
)
from attribcli.rights.spdx import canonical_license, spdx_ids
from tests.helpers import one_line

PD = LicenseClass("commercial", attribution=False, share_alike=False, public_domain=True)
BY = LicenseClass("commercial", attribution=True, share_alike=False, public_domain=False)
BY_SA = LicenseClass("commercial", attribution=True, share_alike=True, public_domain=False)
FREE = LicenseClass("commercial", attribution=False, share_alike=False, public_domain=False)
NC = LicenseClass("non-commercial", attribution=True, share_alike=False, public_domain=False)
NC_SA = LicenseClass("non-commercial", attribution=True, share_alike=True, public_domain=False)
RESEARCH = LicenseClass("research", attribution=True, share_alike=False, public_domain=False)


@dataclass(frozen=True)
class Doc:
    id: str
    license: str
    opt_out: bool = False


# --- the table -------------------------------------------------------------------------------------

CC_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")


@pytest.mark.parametrize("version", CC_VERSIONS)
@pytest.mark.parametrize("family, expected", [
    ("CC-BY", BY), ("CC-BY-SA", BY_SA), ("CC-BY-ND", BY),
    ("CC-BY-NC", NC), ("CC-BY-NC-SA", NC_SA), ("CC-BY-NC-ND", NC),
])
def test_cc_family_every_version(family, version, expected):
    lic = f"{family}-{version}"
    if lic.lower() in spdx_ids():
        assert classify(lic) == expected
    # "or later" keeps the family's terms, whether or not the exact version is listed
    assert classify(canonical_license(f"{family}-4.0+", file="t")) == expected


@pytest.mark.parametrize("lic, expected", [
    ("CC-BY-3.0-IGO", BY), ("CC-BY-SA-2.1-JP", BY_SA), ("CC-BY-NC-SA-2.0-UK", NC_SA),
    ("CC-BY-NC-ND-3.0-DE", NC), ("CC-BY-2.5-AU", BY), ("CC-SA-1.0", LicenseClass("commercial", False, True, False)),
])
def test_cc_ports(lic, expected):
    assert classify(lic) == expected


@pytest.mark.parametrize("lic", ["CC0-1.0", "PDDL-1.0", "Unlicense", "CC-PDDC", "CC-PDM-1.0"])
def test_public_domain(lic):
    assert classify(lic) == PD


@pytest.mark.parametrize("lic, expected", [
    ("MIT", BY), ("Apache-2.0", BY), ("BSD-2-Clause", BY), ("BSD-3-Clause", BY), ("ISC", BY),
    ("ODC-By-1.0", BY), ("CDLA-Permissive-2.0", BY), ("ODbL-1.0", BY_SA), ("CDLA-Sharing-1.0", BY_SA),
    ("MPL-2.0", BY_SA), ("0BSD", FREE), ("MIT-0", FREE), ("NCGL-UK-2.0", NC), ("OGL-UK-3.0", BY),
])
def test_permissive_and_data_licences(lic, expected):
    assert classify(lic) == expected


@pytest.mark.parametrize("lic", [
    "GPL-2.0", "GPL-2.0+", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0", "GPL-3.0+", "GPL-3.0-only",
    "GPL-3.0-or-later", "GPL-2.0-with-classpath-exception", "GPL-3.0-with-GCC-exception",
    "LGPL-2.0-only", "LGPL-2.1", "LGPL-2.1+", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
    "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "GFDL-1.3-or-later",
])
def test_gnu_family_is_commercial_share_alike(lic):
    assert lic.lower() in spdx_ids(), lic
    assert classify(lic) == BY_SA


def test_plus_suffix_classifies_as_base():
    for base in ("MIT", "Apache-2.0", "CC-BY-SA-3.0", "MPL-2.0", "CC-BY-NC-4.0", "GPL-3.0-only"):
        plus = canonical_license(base + "+", file="t")
        assert plus == base + "+"
        assert classify(plus) == classify(base)


@pytest.mark.parametrize("lic", ["unknown", "LicenseRef-house-terms", "DocumentRef-spdx.tv:LicenseRef-x",
                                 "LicenseRef-x+", "Artistic-2.0", "Not-In-The-List"])
def test_unknown_and_unlisted_are_unspecified(lic):
    assert classify(lic) == UNSPECIFIED
    assert not UNSPECIFIED.attribution and not UNSPECIFIED.share_alike and not UNSPECIFIED.public_domain


def test_every_spdx_id_classifies():
    for lic in spdx_ids().values():
        cls = classify(lic)
        assert cls.use in USES, lic
    # OpenRAIL-style ids: SPDX 3.27 lists none; any a regenerated list adds must be in the table
    for lic in spdx_ids().values():
        if "rail" in lic.lower():
            assert classify(lic) != UNSPECIFIED, lic


def test_overrides_by_exact_id():
    house = LicenseClass("research", attribution=True, share_alike=False, public_domain=False)
    ov = {"LicenseRef-house": house, "CC-BY-ND-4.0": NC}
    assert classify("LicenseRef-house", ov) == house
    assert classify("LicenseRef-other", ov) == UNSPECIFIED
    assert classify("CC-BY-ND-4.0", ov) == NC  # overrides win over the table
    assert classify("CC-BY-ND-3.0", ov) == BY  # exact id only
    assert classify("MIT AND LicenseRef-house", ov).use == "research"  # applied inside expressions
    assert classify("MIT OR LicenseRef-x", {"MIT OR LicenseRef-x": NC}) == NC  # whole expression key


# --- expressions -----------------------------------------------------------------------------------

def test_or_picks_the_most_permissive():
    assert classify("CC-BY-NC-4.0 OR MIT") == BY
    assert classify("MIT OR CC0-1.0") == PD
    assert classify("GPL-3.0-only OR MIT") == BY  # same use, fewer obligations
    assert classify("LicenseRef-x OR CC-BY-NC-4.0") == NC  # any known grant beats an unknown one


def test_and_is_the_most_restrictive_combination():
    assert classify("MIT AND CC-BY-NC-SA-4.0") == NC_SA
    assert classify("CC0-1.0 AND MIT") == BY  # public domain only if both are
    assert classify("CC0-1.0 AND PDDL-1.0") == PD
    assert classify("MIT AND LicenseRef-x").use == "unspecified"  # unknown is never permissive
    assert classify("MIT AND ODbL-1.0") == BY_SA


def test_with_classifies_the_base():
    assert classify("GPL-2.0-only WITH Classpath-exception-2.0") == BY_SA
    assert classify("Apache-2.0 WITH LLVM-exception OR CC-BY-NC-4.0") == BY


def test_nested_parentheses_and_precedence():
    assert classify("MIT AND CC-BY-NC-4.0 OR CC0-1.0") == PD  # AND binds tighter than OR
    assert classify("MIT AND (CC-BY-NC-4.0 OR CC0-1.0)") == BY
    assert classify("((MIT AND (CC-BY-NC-4.0 OR (CC-BY-SA-4.0 AND CC0-1.0))) OR LicenseRef-x)") == BY_SA
    value = canonical_license("( mit AND ( cc-by-nc-4.0 OR cc0-1.0 ) )", file="t")
    assert classify(value) == BY


def test_malformed_expression_is_one_line():
    with pytest.raises(AttribError) as info:
        classify("(MIT OR")
    one_line(info.value, "license", "fix:")


def test_permissiveness_order():
    assert USES == ("commercial", "non-commercial", "research", "unspecified")
    assert permits("commercial", "commercial") and permits("non-commercial", "research")
    assert not permits("research", "non-commercial") and not permits("non-commercial", "commercial")
    assert not permits("unspecified", "research")


# --- policy ----------------------------------------------------------------------------------------

def bad_policy(docs, policy, *needles):
    with pytest.raises(AttribError) as info:
        apply_policy(docs, policy, file="corpus.jsonl")
    return one_line(info.value, "corpus.jsonl", "license", "fix:", *needles)


def test_defaults_train_and_pay_holders():
    out = apply_policy([Doc("a", "MIT"), Doc("b", "LicenseRef-x"), Doc("c", "CC-BY-SA-4.0")],
                       LicensePolicy(), file="corpus.jsonl")
    assert [(d.id, d.train, d.pay_to) for d in out.decisions] == [
        ("a", True, "holders"), ("b", True, "holders"), ("c", True, "holders")]
    assert out["a"].reason == "licensed" and out["a"].cls == BY


def test_non_commercial_in_commercial_run_raises():
    msg = bad_policy([Doc("a", "MIT"), Doc("nc7", "CC-BY-NC-4.0")], LicensePolicy(), "nc7", "CC-BY-NC-4.0",
                     "allow_non_commercial_in_commercial", "run_use")
    assert "(and" not in msg
    bad_policy([Doc("x", "CC-BY-NC-4.0"), Doc("y", "CC-BY-NC-SA-4.0")], LicensePolicy(), "'x' (and 1 more)")


def test_research_only_in_commercial_run_raises():
    ov = {"LicenseRef-research": RESEARCH}
    bad_policy([Doc("r1", "LicenseRef-research")], LicensePolicy(overrides=ov), "r1", "research")
    # research-only does not cover a non-commercial run either (research ⊂ non-commercial)
    bad_policy([Doc("r1", "LicenseRef-research")], LicensePolicy(run_use="non-commercial", overrides=ov),
               "r1", "run_use: research")
    out = apply_policy([Doc("r1", "LicenseRef-research"), Doc("n", "CC-BY-NC-4.0")],
                       LicensePolicy(run_use="research", overrides=ov), file="c")
    assert out.trained_ids == ("r1", "n")


def test_allow_flag_trains_non_commercial_in_commercial_run():
    ov = {"LicenseRef-research": RESEARCH}
    out = apply_policy([Doc("n", "CC-BY-NC-4.0"), Doc("r", "LicenseRef-research")],
                       LicensePolicy(allow_non_commercial_in_commercial=True, overrides=ov), file="c")
    assert [(d.train, d.pay_to) for d in out.decisions] == [(True, "holders"), (True, "holders")]
    assert out["n"].reason == "non-commercial allowed in commercial run by policy"


def test_opt_out_takes_precedence():
    out = apply_policy([Doc("n", "CC-BY-NC-4.0", opt_out=True), Doc("p", "CC0-1.0", opt_out=True)],
                       LicensePolicy(), file="c")  # no error: an opted-out document is never used
    assert all(not d.train and d.pay_to == "none" and d.reason == "opted out" for d in out.decisions)


def test_not_trainable_is_skipped_not_an_error():
    policy = LicensePolicy(trainable=("commercial", "research"))
    out = apply_policy([Doc("n", "CC-BY-NC-4.0"), Doc("u", "unknown"), Doc("m", "MIT")], policy, file="c")
    assert out.trained_ids == ("m",)
    assert out["n"].reason == "non-commercial not trainable by policy" and out["n"].pay_to == "none"
    assert out["u"].reason == "unspecified not trainable by policy"


def test_public_domain_routes_to_commons():
    docs = [Doc("p", "CC0-1.0"), Doc("q", "PDDL-1.0"), Doc("m", "MIT")]
    out = apply_policy(docs, LicensePolicy(), file="c")
    assert [d.pay_to for d in out.decisions] == ["commons", "commons", "holders"]
    assert out["p"].train and out["p"].reason == "public domain, paid to commons"
    out = apply_policy(docs, LicensePolicy(commons_public_domain=False), file="c")
    assert [d.pay_to for d in out.decisions] == ["holders", "holders", "holders"]


def test_payable_exclusions_are_valued_but_paid_to_nobody():
    policy = LicensePolicy(payable=("non-commercial", "research"), allow_non_commercial_in_commercial=True)
    out = apply_policy([Doc("m", "MIT"), Doc("p", "CC0-1.0"), Doc("n", "CC-BY-NC-4.0"), Doc("u", "unknown")],
                       policy, file="c")
    assert [(d.train, d.pay_to) for d in out.decisions] == [
        (True, "none"), (True, "none"), (True, "holders"), (True, "none")]
    assert out["m"].reason == "commercial not payable by policy"
    assert out["u"].reason == "unspecified not payable by policy"


def test_counts_by_class_and_decision():
    out = apply_policy([Doc("m", "MIT"), Doc("p", "CC0-1.0"), Doc("o", "MIT", opt_out=True),
                        Doc("u", "unknown")], LicensePolicy(payable=("commercial",)), file="c")
    assert out.counts["commercial"] == {"documents": 3, "trained": 2, "opted_out": 1,
                                        "holders": 1, "commons": 1, "none": 0}
    assert out.counts["unspecified"] == {"documents": 1, "trained": 1, "opted_out": 0,
                                         "holders": 0, "commons": 0, "none": 1}
    assert out.counts["research"]["documents"] == 0
    assert list(out.reasons) == ["licensed", "opted out", "public domain, paid to commons",
                                 "unspecified not payable by policy"]


def test_duplicate_ids_and_bad_policy_values():
    with pytest.raises(AttribError) as info:
        apply_policy([Doc("a", "MIT"), Doc("a", "MIT")], LicensePolicy(), file="c.jsonl")
    one_line(info.value, "c.jsonl", "id", "'a'")
    with pytest.raises(AttribError) as info:
        LicensePolicy(run_use="unspecified")
    one_line(info.value, "run_use", "fix:")
    with pytest.raises(AttribError) as info:
        LicensePolicy(trainable=("commercial", "free"))
    one_line(info.value, "trainable", "'free'")


def test_policy_from_mapping():
    p = LicensePolicy.from_mapping({"run_use": "research", "payable": ["commercial"],
                                    "overrides": {"LicenseRef-h": {"use": "research", "attribution": True}}},
                                   file="attrib.yaml")
    assert p.run_use == "research" and p.payable == ("commercial",)
    assert p.overrides["LicenseRef-h"] == RESEARCH
    assert LicensePolicy.from_mapping(None, file="a.yaml") == LicensePolicy()
    with pytest.raises(AttribError) as info:
        LicensePolicy.from_mapping({"overrides": {"LicenseRef-h": {"use": "free"}}}, file="a.yaml")
    one_line(info.value, "a.yaml", "licenses.overrides.LicenseRef-h.use", "fix:")
    with pytest.raises(AttribError) as info:
        LicensePolicy.from_mapping({"trainable": "commercial"}, file="a.yaml")
    one_line(info.value, "a.yaml", "licenses.trainable")
    with pytest.raises(AttribError) as info:
        LicensePolicy.from_mapping({"run_uses": "commercial"}, file="a.yaml")
    one_line(info.value, "a.yaml", "licenses", "'run_uses'")


# --- license_mix -----------------------------------------------------------------------------------

def test_license_mix_rows_and_determinism():
    docs = [Doc("a", "MIT"), Doc("b", "CC0-1.0"), Doc("c", "MIT"), Doc("d", "CC-BY-4.0", opt_out=True),
            Doc("e", "Apache-2.0"), Doc("f", "CC0-1.0"), Doc("g", "MIT", opt_out=True)]
    rows = license_mix(apply_policy(docs, LicensePolicy(), file="c"))
    assert rows == [
        {"license": "MIT", "use": "commercial", "attribution": True, "share_alike": False,
         "public_domain": False, "documents": 3, "trained": 2, "pay_to": "holders"},
        {"license": "CC0-1.0", "use": "commercial", "attribution": False, "share_alike": False,
         "public_domain": True, "documents": 2, "trained": 2, "pay_to": "commons"},
        {"license": "Apache-2.0", "use": "commercial", "attribution": True, "share_alike": False,
         "public_domain": False, "documents": 1, "trained": 1, "pay_to": "holders"},
        {"license": "CC-BY-4.0", "use": "commercial", "attribution": True, "share_alike": False,
         "public_domain": False, "documents": 1, "trained": 0, "pay_to": "none"},
    ]
    rng = random.Random(0)
    for _ in range(5):
        shuffled = docs[:]
        rng.shuffle(shuffled)
        assert license_mix(apply_policy(shuffled, LicensePolicy(), file="c")) == rows
