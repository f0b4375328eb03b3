"""``--png PATH`` for every benchmark: one figure, written atomically, with matplotlib as an optional extra.

    with png_figure(args.png, ncols=2, title="...") as axes:   # axes is None when there is nothing to do
        if axes is not None:
            axes[0].plot(...)

Without ``--png`` nothing is imported. Without matplotlib (``pip install "attribcli[plot]"``) the
benchmark still prints its table and says on stderr that no plot was written.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def png_figure(path: str | None, *, ncols: int = 1, title: str = "", width: float = 5.0, height: float = 4.2):
    if not path:
        yield None
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install \"attribcli[plot]\"): no plot written", file=sys.stderr)
        yield None
        return
    from attribcli.files import atomic_write_bytes

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    try:
        yield list(axes[0])
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
        atomic_write_bytes(Path(path), buf.getvalue())
        print(f"wrote {path}", file=sys.stderr)
    finally:
        plt.close(fig)
