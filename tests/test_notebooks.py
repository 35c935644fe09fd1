"""The notebooks run, top to bottom, with short settings (so they never rot). Each runs in
its own kernel; 01 and 04 start their own embedded Ray cluster, so these run in the
separate pytest process (marker `standalone`, see Makefile)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.standalone


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name, monkeypatch):
    monkeypatch.setenv("ACCORD_NOTEBOOK_BENCH_SECONDS", "2")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()  # fmt: skip
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in notebook.cells if c.cell_type == "code"), path.name  # fmt: skip
