"""Exact money: integer minor units (cents), never floats.

Payouts must add up to the revenue to the last cent and be reproducible by anyone
re-running the numbers, so amounts are parsed with ``decimal`` into integers and split
with exact rational arithmetic (``fractions``); a float never touches a sum of money.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from attribcli.errors import AttribError

__all__ = [
    "CURRENCY_EXPONENTS",
    "exponent",
    "parse_amount",
    "format_amount",
    "allocate",
    "split_evenly",
    "tie_order",
]

#: ISO 4217 minor-unit exponents: how many decimal places one minor unit is.
#: Deliberately a short, explicit list: an unknown code is an error, not a guess of 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 2 for c in ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
                      "PLN", "CZK", "INR", "CNY", "BRL", "MXN", "ZAR", "SGD", "HKD")},
    **{c: 0 for c in ("JPY", "KRW", "ISK", "CLP", "VND")},
    **{c: 3 for c in ("BHD", "KWD", "OMR", "JOD", "TND")},
}

_EXAMPLE_CODES = "USD, EUR, GBP, JPY, BHD"

# No real amount needs more significant digits; the cap keeps a garbage cell from
# turning into a giant integer (and stays far below Python's int/str conversion limit).
_MAX_DIGITS = 40

# Plain decimal only: digits, at most one point, optional sign. No exponents ("1e3"),
# no thousands separators ("1,000"), no non-ASCII digits: a money column must mean one
# thing to every reader, and Decimal alone would accept all of those.
_DECIMAL_RE = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _show(value: object) -> str:
    """The bad value as the user typed it, kept short enough for a one-line error."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def exponent(currency: str, *, file=None, field: str | None = "currency") -> int:
    """Minor-unit exponent of an ISO 4217 code (case-insensitive, surrounding spaces ignored).

    Unknown codes are refused rather than defaulted: paying JPY as if it had cents would be
    off by a factor of 100.
    """
    code = currency.strip().upper() if isinstance(currency, str) else None
    if code not in CURRENCY_EXPONENTS:
        raise AttribError(
            f"unknown currency {_show(currency)}",
            file=file, field=field,
            fix=f"use a supported ISO 4217 code such as {_EXAMPLE_CODES}",
        )
    return CURRENCY_EXPONENTS[code]


def parse_amount(text: str | int, currency: str, *, file=None, field: str | None = "revenue") -> int:
    """Parse a non-negative decimal amount into integer minor units of ``currency``, exactly.

    Accepts an ``int`` (whole major units) or a plain decimal string ("12", "12.5", "12.50").
    Refuses anything that could silently change the amount: floats (already rounded in
    binary), bools, exponents, thousands separators, NaN/Infinity, negatives, and digits
    finer than the currency's minor unit ("12.505" USD). Trailing zeros are fine ("12.500"
    USD is exactly 1250 cents). Returns e.g. 1250 for "12.50" USD.
    """
    exp = exponent(currency, file=file)
    places = f"{exp} decimal place{'s' if exp != 1 else ''}"

    def bad(problem: str, fix: str) -> AttribError:
        return AttribError(f"{problem}: {_show(text)}", file=file, field=field, fix=fix)

    quoted = 'write it as a quoted decimal string, e.g. "12.50"'
    if isinstance(text, bool):
        raise bad("amount is a boolean, not a number", quoted)
    if isinstance(text, float):
        raise bad("amount is a float, which cannot hold money exactly", quoted)
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        s = text.strip()
        if not s:
            raise bad("amount is empty", quoted)
        m = _DECIMAL_RE.fullmatch(s)
        if m is None:
            raise bad("amount is not a plain decimal number",
                      'use digits with an optional "." only: no exponent, no thousands '
                      'separators, no currency symbol, e.g. "1000.00"')
        try:
            value = Decimal(s)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            raise bad("amount is not a plain decimal number", quoted) from None
    else:
        raise bad(f"amount has type {type(text).__name__}, not a number", quoted)

    if value < 0:
        raise bad("amount is negative", "give an amount of zero or more")
    # Integer arithmetic on the decimal's own digits: Decimal.scaleb/quantize would round
    # to the context's 28 significant digits, silently, on large amounts.
    _, digits, dec_exp = value.as_tuple()
    if len(digits) > _MAX_DIGITS:
        raise bad(f"amount has more than {_MAX_DIGITS} digits", "check the column holds an amount")
    coeff = int("".join(map(str, digits)))
    shift = dec_exp + exp
    if shift >= 0:
        return coeff * 10 ** shift
    minor, finer = divmod(coeff, 10 ** -shift)
    if finer:
        raise bad(f"amount is finer than the {places} {currency.strip().upper()} allows",
                  f"round it to {places} yourself, so the rounding is your decision")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Minor units back to a plain decimal string: 1250 USD → "12.50", 5 JPY → "5".

    Always shows every minor digit, so ``parse_amount(format_amount(x, c), c) == x``.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, got {type(minor).__name__}")
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    if exp == 0:
        return f"{sign}{abs(minor)}"
    major, rest = divmod(abs(minor), 10 ** exp)
    return f"{sign}{major}.{rest:0{exp}d}"


def tie_order(salt: str, key: str) -> bytes:
    """Where ``key`` stands among equal remainders: SHA-256 of (salt, key). Deterministic (the same statement
    gives the same cents on every machine, so verify re-derives it) but not the key's own order, which handed
    every leftover cent to the smallest ids in every statement; a salt naming the statement (its run, revenue,
    policy; a generation id within it) re-draws the order each period, so no id is favoured across periods."""
    return hashlib.sha256(f"{salt}\0{key}".encode()).digest()


def allocate(total: int, weights: Mapping[str, float | int | Fraction], *, salt: str = "") -> dict[str, int]:
    """Split ``total`` minor units in proportion to ``weights``; the parts sum to ``total``.

    Largest-remainder (Hamilton) method, computed exactly: each weight becomes a
    ``Fraction`` (exact even for binary floats, however tiny or huge), only weights > 0
    take part, each key gets ``floor(total * w / sum(w))``, and the few leftover units go
    one each to the largest remainders, ties in ``tie_order(salt, key)``. No rounding anywhere,
    so the result is the same on every machine. Every key of ``weights`` is returned; keys
    with non-positive weight get 0.

    Raises ``ValueError`` for a negative total, a NaN/infinite weight, or when no weight is
    positive (where that money goes is the caller's decision).
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError(f"total must be an int number of minor units, got {type(total).__name__}")
    if total < 0:
        raise ValueError(f"total must be >= 0 minor units, got {total}")

    exact: dict[str, Fraction] = {}
    for key, w in weights.items():
        if isinstance(w, (str, bytes)):
            raise TypeError(f"weight for {key!r} is a string, not a number: {w!r}")
        try:
            exact[key] = Fraction(w)
        except (ValueError, OverflowError):
            raise ValueError(f"weight for {key!r} is not finite: {w!r}") from None

    positive = {k: f for k, f in exact.items() if f > 0}
    if not positive:
        raise ValueError("no positive weight: nobody to allocate to")

    # Put every weight over one common denominator, so all the arithmetic below is on ints:
    # quota_k = total * n_k / N, with floor and remainder from one divmod.
    denom = math.lcm(*(f.denominator for f in positive.values()))
    nums = {k: f.numerator * (denom // f.denominator) for k, f in positive.items()}
    big_n = sum(nums.values())
    shares: dict[str, int] = {}
    remainders: dict[str, int] = {}
    for k, n in nums.items():
        shares[k], remainders[k] = divmod(total * n, big_n)

    leftover = total - sum(shares.values())  # 0 <= leftover < len(positive)
    for k in sorted(remainders, key=lambda k: (-remainders[k], tie_order(salt, str(k)), k))[:leftover]:
        shares[k] += 1

    return {k: shares.get(k, 0) for k in weights}


def split_evenly(total: int, keys: Sequence[str], *, salt: str = "") -> dict[str, int]:
    """Split ``total`` minor units equally; leftover units go to the keys first in ``tie_order(salt, key)``."""
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be a sequence of keys, not a single string")
    keys = list(keys)
    if len(set(keys)) != len(keys):
        raise ValueError("keys must be distinct")
    return allocate(total, {k: 1 for k in keys}, salt=salt)
