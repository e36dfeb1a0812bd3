"""Every notebook runs top to bottom on the local model with the shared references."""

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REFDATA, ROOT

NOTEBOOKS = ["explore", "teaching", "template_debugging", "paper_figure"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    if not REFDATA.exists():
        pytest.skip("shared reference data not found")
    monkeypatch.setenv("EVOLVIZ_REFERENCE_DIR", str(REFDATA))
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    if name == "explore":
        assert "GenerationStats(generation=3, pool_size=8" in text
        assert "pool members are evolved" in text
    if name == "teaching":
        assert "add_constraints" in text and "mutation" in text and "sorry_short_answer" in text
        assert "not_a_task" in text and any(f"gen {g} " in text for g in (1, 2, 3))
    if name == "template_debugging":
        assert "caught:" in text and "--- before" in text and "--- after" in text
        assert "step 0: baseline, failure rate" in text and "optimize-" in text
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
