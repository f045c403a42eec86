"""Writing a benchmark's result: ``<stem>.md`` (the table, with its command) and ``<stem>.json``."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Sequence


def command_line(module: str, argv: Sequence[str]) -> str:
    """The command as a user types it again: ``python -m <module> <argv>``, each argument shell-quoted (a variant
    name with spaces stays one argument)."""
    return f"python -m {module} {shlex.join(argv)}".rstrip()


def write_report(out_dir: str | Path, stem: str, lines: list[str], result: Any) -> Path:
    """Writes the markdown lines and the JSON result side by side, prints the table, returns the .md path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str))
    print("\n".join(lines))
    return out / f"{stem}.md"
