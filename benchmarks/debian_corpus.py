"""A held-out benchmark corpus of real public text: the documentation Debian packages ship on this machine.

    python benchmarks/debian_corpus.py --out DIR [--holders 10] [--docs-per-holder 24] [--reference-per-holder 1]
                                       [--seed 0] [--min-chars 250] [--max-chars 480]

The sample corpus is generated text; attribution claims need text nobody wrote for this project. Every
installed package with documentation under /usr/share/doc is taken as one rights holder (its documentation's
authors; the directories a package ships are found in dpkg's file lists), and its README, NEWS, FAQ, TODO,
*.txt, *.md and *.rst files (gzipped or not) are cut into 250-480 character chunks at paragraph, sentence
or word boundaries. A
later benchmark trains on ``corpus.jsonl`` and checks whether copies, paraphrases and imitations of one
holder's documents (``reference.jsonl`` holds texts of each holder that were never trained on) are paid
to that holder. Every holder owns the same number of documents, so no holder wins by catalogue size.

What is left out, and why: changelogs (mostly version lines, bug numbers and maintainer addresses),
copyright files (licence texts, not the package's own writing; they are read only for the licence id),
paragraphs naming /usr/share/common-licenses, paragraphs with an e-mail address (signatures and author
lists; no personal address is republished), non-ASCII characters (accents are stripped first), chunks
under 80 % letters and spaces or with fewer than two sentence ends (code, tables, version and hash lists),
and any paragraph or chunk whose normalised text appears in two or more packages (licence boilerplate, and
documentation shared by packages built from one source: it has no single holder). Holders are drawn among
packages that yield enough chunks and whose median chunk is at least 85 % letters and spaces (prose, not
code), at most one package per Debian source package (the first by name), from the names in sorted order
with ``random.Random(seed)``; a holder's chunks are drawn with a generator seeded by the seed and the package
name. The same machine and arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPDX_LIST = ROOT / "attribcli" / "rights" / "spdx_licenses.txt"
DPKG_STATUS = Path("/var/lib/dpkg/status")
DPKG_INFO = Path("/var/lib/dpkg/info")
DOC_ROOT = Path("/usr/share/doc")
DOC_NAME = re.compile(r"^(readme|news|faq|todo)([._-].*)?$|\.(txt|md|markdown|rst)(\.gz)?$", re.IGNORECASE)
SKIP_NAME = re.compile(r"^(changelog|copyright)|\.(html?|css|js|png|svg|pdf)(\.gz)?$", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
MAX_FILE_BYTES = 1 << 20    # the first MiB of a file is plenty; it bounds the run time on huge docs
MIN_PROSE = 0.8             # letters + spaces below this share of a chunk: code, tables, version lists
SENTENCE_END = re.compile(r"[A-Za-z)][.!?](?=\s|$)")
PACKAGE_PROSE = 0.85        # a holder's median chunk must be at least this prosy: prefer prose packages
SHARED_BY = 2               # text found in this many packages has no single holder
# Debian's short licence names (DEP-5 and common usage) -> SPDX ids; matched case-insensitively
DEBIAN_TO_SPDX = {
    "gpl-1+": "GPL-1.0-or-later", "gpl-1": "GPL-1.0-only",
    "gpl-2+": "GPL-2.0-or-later", "gpl-2": "GPL-2.0-only", "gpl-2.0+": "GPL-2.0-or-later", "gpl-2.0": "GPL-2.0-only",
    "gpl-3+": "GPL-3.0-or-later", "gpl-3": "GPL-3.0-only", "gpl-3.0+": "GPL-3.0-or-later", "gpl-3.0": "GPL-3.0-only",
    "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2": "LGPL-2.0-only",
    "lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3+": "LGPL-3.0-or-later", "lgpl-3": "LGPL-3.0-only", "lgpl-3.0+": "LGPL-3.0-or-later",
    "lgpl-3.0": "LGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later", "agpl-3": "AGPL-3.0-only",
    "expat": "MIT", "mit": "MIT", "mit/x11": "MIT", "x11": "X11",
    "bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
    "apache-2.0": "Apache-2.0", "apache-2": "Apache-2.0", "isc": "ISC", "zlib": "Zlib", "bsl-1.0": "BSL-1.0",
    "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0", "epl-1.0": "EPL-1.0", "cc0": "CC0-1.0", "cc0-1.0": "CC0-1.0",
    "gfdl-niv-1.3+": "GFDL-1.3-no-invariants-or-later", "gfdl-1.3+": "GFDL-1.3-or-later",
    "artistic-2.0": "Artistic-2.0", "0bsd": "0BSD", "curl": "curl", "ftl": "FTL", "postgresql": "PostgreSQL",
    "public-domain": "LicenseRef-public-domain", "pd": "LicenseRef-public-domain",
    "public_domain": "LicenseRef-public-domain",
}


def spdx_ids(path: Path = SPDX_LIST) -> frozenset[str]:
    """The current (not deprecated, '!') SPDX ids attrib accepts: an id outside them becomes LicenseRef-."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and not ln.startswith(("#", "!")))


def licence_ref(pkg: str) -> str:
    """``LicenseRef-Debian-<pkg>``: the package's own terms, in the letters attrib's LicenseRef pattern allows."""
    return "LicenseRef-Debian-" + re.sub(r"[^A-Za-z0-9.-]", "-", pkg.replace("+", "plus"))


def package_licence(pkg: str, dirs: list[Path], known: frozenset[str]) -> str:
    """The licence of the ``Files: *`` paragraph of the package's DEP-5 copyright file (its own directory's,
    else its first directory's), as an SPDX id attrib accepts; anything else (no file, a free-form file, a
    name with no SPDX id) is the package's own LicenseRef."""
    ref = licence_ref(pkg)
    paths = [d / "copyright" for d in sorted(dirs, key=lambda d: (d.name != pkg, d.name))]
    path = next((p for p in paths if p.is_file() and not p.is_symlink()), None)
    if path is None:
        return ref
    text = path.read_bytes()[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    first = text.lstrip().split("\n", 1)[0].lower()
    if not first.startswith("format:"):
        return ref
    for para in re.split(r"\n[ \t]*\n", text):
        fields = _dep5_fields(para)
        if fields.get("files", "").split()[:1] == ["*"] and fields.get("license", "").split():
            short = fields["license"].split()[0].rstrip(",")
            spdx = DEBIAN_TO_SPDX.get(short.lower(), "")
            return spdx if spdx in known or spdx.startswith("LicenseRef-") else ref
    return ref


def _dep5_fields(para: str) -> dict[str, str]:
    """Field name (lower case) -> the first line of its value; continuation lines are not needed here."""
    out = {}
    for line in para.splitlines():
        m = re.match(r"^([A-Za-z-]+):(.*)$", line)
        if m:
            out.setdefault(m.group(1).lower(), m.group(2).strip())
    return out


def dpkg_owners(root: Path, info: Path = DPKG_INFO) -> dict[str, str]:
    """Documentation directory name -> the installed package that ships it (``dpkg -S``, read from dpkg's
    file lists): some packages ship several directories (x11proto-dev ships kbproto, xproto, ...), and a
    holder is a package, not a directory. A directory no package lists is a package of its own."""
    out: dict[str, str] = {}
    prefix = str(root).rstrip("/") + "/"
    for lst in sorted(info.glob("*.list")) if info.is_dir() else []:
        pkg = lst.name[:-len(".list")].split(":")[0]
        for line in lst.read_text(encoding="utf-8", errors="replace").splitlines():
            name = line[len(prefix):] if line.startswith(prefix) else ""
            if name and "/" not in name and (name not in out or name == pkg):  # the same-named package wins
                out[name] = pkg
    return out


def source_packages(status: Path = DPKG_STATUS) -> dict[str, str]:
    """Binary package -> Debian source package, from dpkg's status file: packages built from one source
    share authors, so at most one of them may become a holder. Missing file: every package is its own."""
    out: dict[str, str] = {}
    if not status.is_file():
        return out
    for para in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        fields = _dep5_fields(para)
        if "package" in fields:
            out.setdefault(fields["package"], (fields.get("source") or fields["package"]).split()[0])
    return out


def doc_files(pkg_dir: Path) -> list[Path]:
    """The package's prose files, in sorted order; symlinks are skipped (they point into other packages
    or to common-licenses) and so are symlinked directories."""
    out = []
    stack = [pkg_dir]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        for p in entries:
            if p.is_symlink():
                continue
            if p.is_dir():
                stack.append(p)
            elif p.is_file() and DOC_NAME.search(p.name) and not SKIP_NAME.search(p.name):
                out.append(p)
    return sorted(out)


def read_text(path: Path) -> str:
    """The file as text (gzip opened transparently), at most MAX_FILE_BYTES; binary files read as ''."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    if b"\0" in raw:
        return ""
    return raw.decode("utf-8", errors="replace")


def paragraphs(text: str, markdown: bool) -> list[str]:
    """Blank-line separated paragraphs, ASCII only (accented letters keep their base letter, the rest of the
    non-ASCII characters are dropped), whitespace collapsed; fenced code blocks of Markdown
    files and paragraphs that are boilerplate pointers or carry an e-mail address are left out."""
    if markdown:
        kept, fenced = [], False
        for line in text.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
                continue
            kept.append("" if fenced else line)
        text = "\n".join(kept)
    out = []
    for block in re.split(r"\n[ \t\f\v\r]*\n", text.replace("\r\n", "\n")):
        if "\b" in block:  # nroff overstrike: formatted manual pages, not prose
            continue
        ascii_only = unicodedata.normalize("NFKD", block).encode("ascii", errors="ignore").decode("ascii")
        para = " ".join(ascii_only.split())
        if para and "/usr/share/common-licenses" not in para and not EMAIL.search(para):
            out.append(para)
    return out


def prose_share(text: str) -> float:
    """Letters and spaces over all characters: prose is ~0.95, code and tables well under 0.8."""
    return sum(c.isalpha() or c == " " for c in text) / max(1, len(text))


def chunks(paras: list[str], min_chars: int, max_chars: int) -> list[str]:
    """Consecutive paragraphs of one file joined until a chunk is ``min_chars`` long, cut at ``max_chars``:
    at the last sentence end in [min_chars, max_chars] when there is one, else at the last space; the
    rest carries over into the next chunk, so no text is in two chunks. A file's tail under ``min_chars``
    is dropped."""
    out: list[str] = []
    buf = ""
    for para in paras:
        buf = f"{buf}\n\n{para}" if buf else para
        while len(buf) >= min_chars:
            if len(buf) <= max_chars:
                out.append(buf)
                buf = ""
                break
            window = buf[:max_chars + 1]
            ends = [m.end() for m in re.finditer(r"[.!?][\"')\]]?(?=\s)|(?=\n\n)", window) if m.end() >= min_chars]
            cut = ends[-1] if ends else window.rfind(" ")
            if cut < min_chars:  # no space in reach: a run-on token (a URL, a hash), not prose
                buf = ""
                break
            out.append(buf[:cut].strip())
            buf = buf[cut:].strip()
    if min_chars <= len(buf) <= max_chars:
        out.append(buf)
    return [c for c in out if min_chars <= len(c) <= max_chars]


def normal(text: str) -> str:
    """Whitespace-normalised text: the key for duplicate and shared-boilerplate checks."""
    return " ".join(text.split())


def packages(root: Path) -> dict[str, list[Path]]:
    """Package -> its documentation directories under ``root``, sorted; symlinked directories are another
    package's documentation and are skipped. Owners come from dpkg only for the system's own doc root."""
    owners = dpkg_owners(root) if root == DOC_ROOT else {}
    out: dict[str, list[Path]] = {}
    for d in sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), key=lambda p: p.name):
        out.setdefault(owners.get(d.name, d.name), []).append(d)
    return dict(sorted(out.items()))


def is_prose(text: str) -> bool:
    """Mostly letters and spaces, with at least two sentence ends: drops code, tables, hash and version lists."""
    return prose_share(text) >= MIN_PROSE and len(SENTENCE_END.findall(text)) >= 2


def scan(units: dict[str, list[Path]], min_chars: int, max_chars: int) -> dict[str, list[tuple[str, str]]]:
    """Package -> its usable chunks as (text, source path), in file and text order. Paragraphs and chunks
    found in two or more packages are dropped everywhere; a chunk repeated within one package is kept once."""
    files = {pkg: [(f, paragraphs(read_text(f), f.name.lower().endswith((".md", ".md.gz", ".markdown"))))
                   for d in dirs for f in doc_files(d)] for pkg, dirs in units.items()}
    para_pkgs: dict[str, set[str]] = {}
    for pkg, items in files.items():
        for _, paras in items:
            for para in paras:
                para_pkgs.setdefault(para, set()).add(pkg)
    raw: dict[str, list[tuple[str, str]]] = {}
    chunk_pkgs: dict[str, set[str]] = {}
    for pkg, items in files.items():
        raw[pkg] = []
        for f, paras in items:
            own = [p for p in paras if len(para_pkgs[p]) < SHARED_BY]
            raw[pkg] += [(c, str(f)) for c in chunks(own, min_chars, max_chars) if is_prose(c)]
        for text, _ in raw[pkg]:
            chunk_pkgs.setdefault(normal(text), set()).add(pkg)
    usable: dict[str, list[tuple[str, str]]] = {}
    for pkg, items in raw.items():
        seen: set[str] = set()
        usable[pkg] = []
        for text, src in items:
            key = normal(text)
            if len(chunk_pkgs[key]) < SHARED_BY and key not in seen:
                seen.add(key)
                usable[pkg].append((text, src))
    return usable


def build(out: Path, *, holders: int = 10, docs_per_holder: int = 24, reference_per_holder: int = 1,
          seed: int = 0, min_chars: int = 250, max_chars: int = 480, root: Path = DOC_ROOT) -> dict:
    """Write corpus.jsonl, holders.csv, reference.jsonl and README.md into ``out`` (created; it must be
    empty) and return a summary: the chosen packages with their documents and licence, and totals."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty directory")
    if holders < 1 or docs_per_holder < 1 or reference_per_holder < 0 or not 0 < min_chars <= max_chars:
        raise ValueError("need holders >= 1, docs-per-holder >= 1, reference-per-holder >= 0, "
                         "0 < min-chars <= max-chars")
    need = docs_per_holder + reference_per_holder
    units = packages(Path(root))
    usable = scan(units, min_chars, max_chars)
    source = source_packages() if Path(root) == DOC_ROOT else {}
    candidates, sources_seen = [], set()
    for pkg in sorted(usable):  # the first package by name stands for its source package
        src = source.get(pkg, pkg)
        if len(usable[pkg]) >= need and src not in sources_seen and _median_prose(usable[pkg]) >= PACKAGE_PROSE:
            sources_seen.add(src)
            candidates.append(pkg)
    if len(candidates) < holders:
        raise ValueError(f"only {len(candidates)} packages under {root} yield {need} usable chunks "
                         f"of {min_chars}-{max_chars} characters; ask for fewer holders or documents")
    chosen = sorted(random.Random(seed).sample(candidates, holders))
    known = spdx_ids()
    width = max(2, len(str(holders)))
    doc_width = max(4, len(str(holders * docs_per_holder)))
    corpus, refs, rows, summary = [], [], [], []
    for i, pkg in enumerate(chosen, start=1):
        hid = f"d{i:0{width}d}"
        licence = package_licence(pkg, units[pkg], known)
        picked = random.Random(f"{seed}:{pkg}").sample(range(len(usable[pkg])), need)
        held_out = set(picked[:reference_per_holder])
        for k, j in enumerate(sorted(held_out), start=1):
            refs.append({"id": f"ref-{hid}-{k}", "prompt": "", "completion": usable[pkg][j][0]})
        for j in sorted(picked[reference_per_holder:]):
            text, src = usable[pkg][j]
            corpus.append({"id": f"deb-{len(corpus) + 1:0{doc_width}d}", "text": text,
                           "holders": [{"id": hid, "share": 1.0}], "license": licence, "source": src,
                           "opt_out": False})
        rows.append((hid, pkg, f"https://packages.debian.org/{pkg}"))
        summary.append({"holder": hid, "package": pkg, "documents": docs_per_holder, "license": licence,
                        "usable_chunks": len(usable[pkg])})
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "corpus.jsonl", corpus)
    _write_jsonl(out / "reference.jsonl", refs)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("holder_id", "name", "contact"))
    writer.writerows(rows)
    (out / "holders.csv").write_text(buf.getvalue(), encoding="utf-8")
    args = (f"--holders {holders} --docs-per-holder {docs_per_holder} --reference-per-holder {reference_per_holder} "
            f"--seed {seed} --min-chars {min_chars} --max-chars {max_chars}")
    (out / "README.md").write_text(_readme(args, summary, root, min_chars, max_chars), encoding="utf-8")
    return {"packages": summary, "candidates": len(candidates), "documents": len(corpus), "references": len(refs),
            "characters": sum(len(d["text"]) for d in corpus)}


def _median_prose(items: list[tuple[str, str]]) -> float:
    shares = sorted(prose_share(t) for t, _ in items)
    return shares[len(shares) // 2] if shares else 0.0


def _write_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=True) + "\n")


def _readme(args: str, summary: list[dict], root: Path, min_chars: int, max_chars: int) -> str:
    """The dataset card: what each file is, how it was made, and whose text it is under which terms."""
    licences = sorted({s["license"] for s in summary})
    lines = [
        "# Debian documentation benchmark corpus", "",
        f"Made by `python benchmarks/debian_corpus.py --out DIR {args}` from the documentation under `{root}`.", "",
        f"- `corpus.jsonl`: attrib's corpus format; each document is a {min_chars}-{max_chars} character chunk of",
        "  one package's README / NEWS / FAQ / TODO / .txt / .md / .rst files, owned wholly by its holder.",
        "- `holders.csv`: one holder per Debian package (its documentation's authors), contact = its",
        "  packages.debian.org page.",
        "- `reference.jsonl`: held-out chunks of each holder, never in the corpus (prompt empty, completion = text).",
        "", "The texts are those packages' own documentation, redistributed under each package's own licence",
        "(read from the `Files: *` paragraph of its `copyright` file; LicenseRef-Debian-<package> when that",
        "file is not machine-readable or names no SPDX licence).", "",
        "Licence ids used: " + ", ".join(f"`{x}`" for x in licences) + ".", "",
        "| holder | package | licence |", "|---|---|---|",
    ]
    lines += [f"| {s['holder']} | {s['package']} | {s['license']} |" for s in summary]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="directory to create (must be absent or empty)")
    ap.add_argument("--holders", type=int, default=10)
    ap.add_argument("--docs-per-holder", type=int, default=24)
    ap.add_argument("--reference-per-holder", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-chars", type=int, default=250)
    ap.add_argument("--max-chars", type=int, default=480)
    ap.add_argument("--root", type=Path, default=DOC_ROOT, help=argparse.SUPPRESS)  # tests: a fake doc tree
    a = ap.parse_args(argv)
    if a.out.exists() and (not a.out.is_dir() or any(a.out.iterdir())):
        print(f"error: {a.out} exists and is not an empty directory; name a new one", file=sys.stderr)
        return 2
    try:
        summary = build(a.out, holders=a.holders, docs_per_holder=a.docs_per_holder,
                        reference_per_holder=a.reference_per_holder, seed=a.seed, min_chars=a.min_chars,
                        max_chars=a.max_chars, root=a.root)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for s in summary["packages"]:
        print(f"{s['holder']}  {s['package']:<28} {s['documents']:>3} documents  {s['license']}")
    print(f"{summary['documents']} documents, {summary['references']} references, {summary['characters']} "
          f"characters, from {len(summary['packages'])} of {summary['candidates']} eligible packages -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
