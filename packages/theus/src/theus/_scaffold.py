"""``theus init``: scaffold a runnable project from the templates shipped as package data.

Templates live in ``theus/templates/<name>/`` (plus ``_common/`` shared by all) as
``*.tmpl`` files, so that linters and type checkers of this package never read them as
code. ``__PROJECT__``, ``__TEMPLATE__``, ``__DESCRIPTION__`` and ``__AUDIT_ROW__`` are
substituted; ``.tmpl`` is dropped from each name. Nothing is written until every file is
rendered, and an existing non-empty folder is refused unless ``force``.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ._launch import CliError

__all__ = ["TEMPLATES", "render_template", "scaffold"]

TEMPLATES = ("minimal", "ecommerce", "agent", "parallel")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def _files(root: Traversable, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in root.iterdir():
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.update(_files(entry, rel + "/"))
        elif entry.name.endswith(".tmpl"):
            out[rel.removesuffix(".tmpl")] = entry.read_text(encoding="utf-8")
    return out


def render_template(template: str, project: str) -> dict[str, str]:
    """Relative path -> text of every file of ``template`` for ``project``."""
    if template not in TEMPLATES:
        raise CliError(f"unknown template {template!r} (choose from {', '.join(TEMPLATES)})")
    base = resources.files("theus") / "templates"
    files = _files(base / "_common")
    files.update(_files(base / template))
    description = (base / template / "description.txt").read_text(encoding="utf-8").strip()
    audit_row = (
        "| `audit.yaml` | audit rules (levels S/A/B/C) on process inputs and outputs |\n"
        if "audit.yaml" in files
        else ""
    )
    subst = {
        "__PROJECT__": project,
        "__TEMPLATE__": template,
        "__DESCRIPTION__": description,
        "__AUDIT_ROW__": audit_row,
    }
    rendered = {}
    for rel, text in files.items():
        for key, value in subst.items():
            text = text.replace(key, value)
        rendered[rel] = text
    return rendered


def scaffold(target: Path, template: str, *, force: bool = False) -> Path:
    """Create the project folder ``target``; returns it."""
    project = target.name
    if not _NAME.match(project) or keyword.iskeyword(project):
        raise CliError(
            f"invalid project name {project!r}: use letters, digits, '_', '-' or '.', "
            "starting with a letter"
        )
    if target.exists() and not target.is_dir():
        raise CliError(f"cannot create {target}: a file with that name exists")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise CliError(f"{target} exists and is not empty (use --force to write into it)")
    files = render_template(template, project)
    try:
        for rel, text in sorted(files.items()):
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
