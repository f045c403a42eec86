"""A run's report: ``eval.json`` (every number, for scripts) and ``eval.md`` (the table a user reads)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from agents.engine.checkpoint import rescue_root, write_text_atomic


def write_report(run_dir: Path, results: dict[str, Any], table: str) -> Path:
    """Writes both files atomically into ``run_dir``; when it cannot be written (read-only, full disk), into the
    folder that also takes the run's checkpoints then (:func:`rescue_root`), with a warning naming it. Returns the
    folder written."""
    texts = {"eval.json": json.dumps(results, indent=2, default=str), "eval.md": table + "\n"}
    for folder in (Path(run_dir), rescue_root(Path(run_dir) / "checkpoints").parent):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in texts.items():
                write_text_atomic(folder / name, text)
        except OSError as err:
            failure = err
            continue
        if folder != Path(run_dir):
            warnings.warn(f"could not write the report to {run_dir}; wrote {folder}/eval.json and eval.md instead", stacklevel=2)
        return folder
    raise OSError(
        f"could not write eval.json to {run_dir} nor to {folder} ({failure.strerror or failure}); "
        "free disk space or make the folder writable"
    )
