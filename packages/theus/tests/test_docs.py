"""The docs are checked against the code: every hookspec of every package is documented
in docs/hooks.md (with all its parameters), every package has a page, and the migration
guide's compatibility names exist."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
PACKAGES = ["theus_state", "theus_signals", "theus_audit", "theus_flux", "theus_shm", "theus"]


def _hookspecs(module: str) -> dict[str, list[str]]:
    """Hook name -> parameter names, parsed from ``<module>.hookspecs``'s source."""
    spec = importlib.util.find_spec(f"{module}.hookspecs")
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    hooks = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            re.match(r"^hookspec\b", ast.unparse(d)) for d in node.decorator_list
        ):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            hooks[node.name] = [a.arg for a in args]
    return hooks


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### `([A-Za-z_][A-Za-z0-9_]*)`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_hookspec_is_documented_with_its_parameters() -> None:
    sections = _sections((DOCS / "hooks.md").read_text(encoding="utf-8"))
    missing, params_missing, seen = [], [], set()
    for module in PACKAGES:
        hooks = _hookspecs(module)
        assert hooks, f"{module}.hookspecs defines no hookspec"
        for name, params in hooks.items():
            seen.add(name)
            body = sections.get(name)
            if body is None:
                missing.append(f"{module}.{name}")
                continue
            params_missing += [f"{name}({p})" for p in params if not re.search(rf"\b{p}\b", body)]
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"
    assert not params_missing, f"hook parameters missing from docs/hooks.md: {params_missing}"
    stale = sorted(set(sections) - seen)
    assert not stale, f"docs/hooks.md documents hooks that do not exist: {stale}"


def test_hooks_are_listed_under_their_package() -> None:
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1)) for m in re.finditer(r"^## (\w+)\s*$", text, re.M)]
    for module in PACKAGES:
        starts = [pos for pos, name in headings if name == module]
        assert starts, f"no '## {module}' section"
        start = starts[0]
        end = min([pos for pos, _ in headings if pos > start], default=len(text))
        for name in _hookspecs(module):
            assert f"### `{name}`" in text[start:end], f"{name} not under ## {module}"


@pytest.mark.parametrize(
    "page", ["index", "theus-state", "theus-signals", "theus-audit", "theus-flux", "theus-shm",
             "theus", "cli", "hooks", "migration"]
)  # fmt: skip
def test_pages_exist_and_relative_links_resolve(page: str) -> None:
    path = DOCS / f"{page}.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{page}.md links to missing {target}"


def test_migration_guide_names_exist() -> None:
    import theus
    import theus.compat as compat
    from theus_signals import OutboxMessage, SignalHub

    text = (DOCS / "migration.md").read_text(encoding="utf-8")
    for old in ("strict_mode", "strict_guards", "domain_ctx", "engine.execute", "OutboxMsg",
                "SignalHub.publish"):  # fmt: skip
        assert old in text, old
    assert compat.OutboxMsg is OutboxMessage
    assert compat.SignalHub is SignalHub
    assert issubclass(compat.TheusEngine, theus.TheusEngine)


def test_compat_engine_accepts_the_old_spellings() -> None:
    from theus import ContractViolation, process
    from theus.compat import ContractViolationError, OutboxMsg, TheusEngine

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def bump(ctx, by: int = 1):  # type: ignore[no-untyped-def]
        ctx.outbox.add(OutboxMsg("bumped", {"by": by}))
        return ctx.domain.n + by

    with TheusEngine({"domain": {"n": 0}}, strict_mode=True, strict_guards=True) as engine:
        engine.register_process("inc", bump)
        assert engine.run_process("inc", by=2) == 2
        assert engine.state.get("domain.n") == 2
        assert [m.payload for m in engine.outbox.pending()] == [{"by": 2}]
    assert ContractViolationError is ContractViolation
    with pytest.raises(ValueError, match="strict_guards=False"):
        TheusEngine({"domain": {}}, strict_guards=False)
    with TheusEngine({"domain": {"n": 1}}, strict_mode=False, strict_guards=False) as fast:
        assert not fast.strict_mode
