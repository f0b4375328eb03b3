"""An optional picture beside the payout statement: who got what, and what the values looked like.

The Markdown statement is exact but a table of numbers; a reader checking it wants to see at a glance
whose share dominates and whether the per-sample values behind it are sane (how many are negative and
earn nothing, whether a few outliers carry the run). One PNG, two panels, from the same ``Payout`` the
statement was rendered from, so the picture never disagrees with the table.

The PNG is reproducible like every other output: a fixed size, dpi and style (the user's matplotlibrc is
ignored), no timestamp or software version in its metadata, so identical inputs give identical bytes.
It uses the Agg canvas directly, never pyplot, so no GUI backend is picked and no global state changes.
matplotlib is an optional extra: ``pip install "attribcli[plot]"``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from attribcli.errors import AttribError
from attribcli.files import atomic_write_bytes
from attribcli.money.amounts import exponent, format_amount
from attribcli.money.payout import Payout
from attribcli.reports.statement import payee_rows
from attribcli.valuation.valuation import Valuation

FIGSIZE = (10.0, 10.0)   # inches
DPI = 100
MAX_BARS = 30            # beyond this, the smallest payees share one "other payees" bar
LABEL_CHARS = 44
BINS = 60


def _truncate(text: str, n: int = LABEL_CHARS) -> str:
    text = " ".join(str(text).split())  # one line, whatever the name held
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def write_payout_plot(val: Valuation, payout: Payout, path: Path, *, title: str) -> Path:
    """Render the payees' shares and the per-sample value histogram to one PNG at ``path``; return it."""
    try:
        import matplotlib.style
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # absent, or built for another numpy: either way, reinstall it
        raise AttribError(f"the plot needs matplotlib, which cannot be imported ({exc})", field="--plot",
                          fix='pip install "attribcli[plot]"') from None
    cur = payout.currency
    rows = sorted(((payout.total(p), f"{p} \u00b7 {name}") for p, name, _, _ in payee_rows(val, payout)),
                  key=lambda r: -r[0])  # stable: ties keep the statement's order
    if len(rows) > MAX_BARS:
        rest = rows[MAX_BARS - 1:]
        rows = rows[: MAX_BARS - 1] + [(sum(a for a, _ in rest), f"({len(rest)} other payees)")]
    values = np.asarray(val.sample_values, dtype=float).ravel()
    values = values[np.isfinite(values)]

    with matplotlib.style.context("default"):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
        fig.suptitle(_truncate(title, 90), parse_math=False)

        amounts = [a for a, _ in rows]
        major = [a / 10 ** exponent(cur) for a in amounts]  # bar lengths only; the labels are exact
        bars = top.barh(range(len(rows)), major, color="tab:blue")
        top.set_yticks(range(len(rows)), [_truncate(label) for _, label in rows], parse_math=False)
        top.invert_yaxis()  # largest at the top
        top.bar_label(bars, padding=3, fontsize=8,
                      labels=[f"{format_amount(a, cur)} {cur} ({_pct(a, payout.revenue)})" for a in amounts])
        top.set_xlim(0, (max(major, default=0) or 1) * 1.3)  # room for the labels
        top.set_xlabel(f"amount ({cur})")
        top.set_title(f"Share of revenue {format_amount(payout.revenue, cur)} {cur}, by payee", loc="left")
        top.tick_params(axis="y", labelsize=8)

        n_s, n_g = np.shape(val.sample_values)
        if values.size:
            bottom.hist(values, bins=BINS, log=True, color="tab:gray")
        else:
            bottom.text(0.5, 0.5, "no values", ha="center", va="center", transform=bottom.transAxes)
        neg, zero = int((values < 0).sum()), int((values == 0).sum())
        bottom.axvline(0, color="tab:red", linewidth=1,
                       label=f"0: values \u2264 0 earn nothing ({neg} negative, {zero} zero, of {values.size})")
        bottom.legend(loc="upper right", fontsize=8)
        bottom.set_xlabel("value (nats)")
        bottom.set_ylabel("count (log)")
        bottom.set_title(f"Per-sample values ({n_s} samples \u00d7 {n_g} generations)", loc="left")

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def _pct(amount: int, total: int) -> str:
    return f"{100 * amount / total:.1f}%" if total else "0.0%"
