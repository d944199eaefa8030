"""Builds the tutorial notebooks from their sources and executes them with Jupyter's client.

Each notebook is written as notebooks/src/NAME.ts in the "percent" cell format:

    // %% [markdown]
    // # A heading            (markdown lines carry a "// " prefix)
    // %%                     (a code cell; the lines that follow are TypeScript)
    // %% tags=["timing"]     (a code cell with cell tags)

`python3 notebooks/tools/build.py [NAME ...]` turns each source into NAME.ipynb, executes it
through `jupyter nbconvert --to notebook --execute` with the tensorbook kernelspec installed
into a temporary JUPYTER_DATA_DIR (dist/ must be built: `npm run build`), replaces the text/html
of the plotly.js output (the ~5 MB library, sent once per kernel session) with a short
comment so the repository stays small (figures keep their SVG fallback), and writes the
executed notebook to notebooks/NAME.ipynb. With --source-only it writes unexecuted notebooks.
With --check it changes nothing and exits non-zero when a committed notebook's cells (sources,
kinds, tags) differ from its source file, or a committed notebook still carries plotly.js.
Run it with Debian's /usr/bin/python3 (nbformat, nbconvert).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(ROOT, "notebooks")
PLOTLY_PLACEHOLDER = "<!-- plotly.js (about 5 MB) is sent here when the notebook runs; left out of the committed copy -->"
MARKER = re.compile(r"^// %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")

KERNELSPEC = {"display_name": "TypeScript (tensorbook)", "language": "typescript", "name": "tensorbook"}


def parse_source(text):
    """Percent-format text -> a list of nbformat cells (leading/trailing blank lines trimmed)."""
    cells = []
    current = None
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            current = {"markdown": bool(m.group("md")), "tags": json.loads(m.group("tags") or "[]"), "lines": []}
            cells.append(current)
            continue
        if current is None:
            if line.strip():
                raise ValueError(f"text before the first '// %%' marker: {line!r}")
            continue
        if current["markdown"]:
            if line.strip() and not (line.startswith("// ") or line == "//"):
                raise ValueError(f"markdown lines must start with '// ': {line!r}")
            line = line[3:] if line.startswith("// ") else ""
        current["lines"].append(line)
    out = []
    for c in cells:
        body = "\n".join(c["lines"]).strip("\n")
        cell = nbformat.v4.new_markdown_cell(body) if c["markdown"] else nbformat.v4.new_code_cell(body)
        if c["tags"]:
            cell.metadata["tags"] = c["tags"]
        out.append(cell)
    return out


def notebook_from_source(path):
    with open(path, encoding="utf-8") as f:
        cells = parse_source(f.read())
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"}
    # Stable cell ids, so rebuilding an unchanged source gives an unchanged file.
    name = os.path.splitext(os.path.basename(path))[0]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i:02d}"[-64:]
    return nb


def strip_plotly_bundle(nb):
    """Replaces the plotly.js library output's HTML with a placeholder; returns how many."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if data.get("text/plain") == "plotly.js loaded" and len(data.get("text/html", "")) > 10000:
                data["text/html"] = PLOTLY_PLACEHOLDER
                n += 1
    return n


def install_kernelspec(data_dir):
    env = dict(os.environ, JUPYTER_DATA_DIR=data_dir)
    subprocess.run(["node", os.path.join(ROOT, "bin", "tensorbook.js"), "install", "--user"], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def execute(src_nb, data_dir, timeout=120):
    """Runs nbconvert on the notebook through stdin/stdout from notebooks/, so the kernel's
    working directory is notebooks/ (as when a user opens the notebook there)."""
    env = dict(os.environ, JUPYTER_DATA_DIR=data_dir)
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--stdin", "--stdout",
                           "--allow-errors", f"--ExecutePreprocessor.timeout={timeout}"], check=True, env=env, cwd=NOTEBOOKS,
                          input=nbformat.writes(src_nb).encode(), stdout=subprocess.PIPE)
    return nbformat.reads(done.stdout.decode(), as_version=4)


def check(names):
    """Problems with the committed notebooks: cells that differ from notebooks/src, plotly.js left in."""
    problems = []
    for name in names:
        want = notebook_from_source(os.path.join(NOTEBOOKS, "src", f"{name}.ts"))
        path = os.path.join(NOTEBOOKS, f"{name}.ipynb")
        if not os.path.exists(path):
            problems.append(f"{name}.ipynb is missing; run notebooks/tools/build.py {name}")
            continue
        have = nbformat.read(path, as_version=4)
        cells = lambda nb: [(c.cell_type, c.source, c.get("metadata", {}).get("tags", [])) for c in nb.cells]
        if cells(have) != cells(want):
            problems.append(f"{name}.ipynb differs from src/{name}.ts; rebuild it with notebooks/tools/build.py {name}")
        if have.metadata.get("kernelspec", {}).get("name") != "tensorbook":
            problems.append(f"{name}.ipynb does not name the tensorbook kernelspec")
        for cell in have.cells:
            for out in cell.get("outputs", []):
                if len(out.get("data", {}).get("text/html", "")) > 1_000_000:
                    problems.append(f"{name}.ipynb carries a text/html output over 1 MB (plotly.js?)")
    return problems


def main(argv):
    if "--check" in argv:
        names = [a for a in argv if not a.startswith("--")] or sorted(
            os.path.splitext(f)[0] for f in os.listdir(os.path.join(NOTEBOOKS, "src")) if f.endswith(".ts"))
        problems = check(names)
        print("\n".join(problems) or f"{len(names)} notebooks match their sources")
        sys.exit(1 if problems else 0)
    source_only = "--source-only" in argv
    names = [a for a in argv if not a.startswith("--")]
    if not names:
        names = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(NOTEBOOKS, "src")) if f.endswith(".ts"))
    failed = []
    with tempfile.TemporaryDirectory(prefix="tensorbook-build-") as tmp:
        data_dir = os.path.join(tmp, "jupyter")
        if not source_only:
            install_kernelspec(data_dir)
        for name in names:
            nb = notebook_from_source(os.path.join(NOTEBOOKS, "src", f"{name}.ts"))
            if not source_only:
                nb = execute(nb, data_dir)
                stripped = strip_plotly_bundle(nb)
                errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells)
                          for o in c.get("outputs", []) if o.output_type == "error"]
                print(f"{name}: executed, {stripped} plotly.js output(s) shortened, {len(errors)} error(s)")
                failed.extend(f"{name} {e}" for e in errors)
            for cell in nb.cells:
                cell.get("metadata", {}).pop("execution", None)
            nbformat.write(nb, os.path.join(NOTEBOOKS, f"{name}.ipynb"))
    if failed:
        sys.exit("error outputs (the notebooks were written with them):\n" + "\n".join(failed))


if __name__ == "__main__":
    main(sys.argv[1:])
