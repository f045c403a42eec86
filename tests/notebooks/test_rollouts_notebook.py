"""notebooks/rollouts.ipynb runs end to end (training its own tiny agents) and shows videos and plots."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "rollouts.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells
    assert all(c.outputs == [] and c.execution_count is None for c in code_cells), (
        "clear the notebook's outputs before committing"
    )


def test_notebook_executes_and_shows_videos_and_plots(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.data.get("text/html", "") for o in outputs if o.output_type == "display_data")
    assert html.count("data:video/mp4;base64,") == 2  # TD-JEPA and FB side by side
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) >= 3  # z plot, reward/success/trajectory plot, custom-reward plot
    videos = sorted(p.name for p in (tmp_path / "outputs" / "notebook").glob("*.mp4"))
    assert videos == ["fb_task1.mp4", "td_jepa_task1.mp4"]
