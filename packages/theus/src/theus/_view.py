"""Guarded views of the context: ``ctx.domain``, ``ctx.global_``, nested paths.

Rules / theory of operation:
- A view is a path prefix plus the call's run, kept in one slot (``_v = (run, prefix,
  ...)``; subclasses append their own items). Every attribute or item access turns into
  the dotted path ``prefix.name`` and goes to the run (``read``/``write``/``delete``/
  ``has``/``whole``), which applies the contract in strict mode.
- A field wins over the mapping method of the same name (``ctx.domain.items``) when it
  exists and may be read; otherwise the name is the method. Names starting with ``_``
  are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from theus_state import thaw

from .exceptions import ContractViolation

if TYPE_CHECKING:
    from ._context import _Run

__all__ = ["View"]

_VIEW_ATTRS = frozenset({"get", "keys", "items", "values", "to_dict", "path"})


class View:
    """A guarded view of one path of the context (``ctx.domain``, ``ctx.domain.user``)."""

    # _v = (run, prefix, ...): one slot, so making a view costs one store (subclasses
    # append their own items to the tuple)
    __slots__ = ("_v",)

    def __getattribute__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            return object.__getattribute__(self, name)
        v = _view(self)
        run = v[0]
        if name in _VIEW_ATTRS:
            # A field wins over the mapping method of the same name (``ctx.domain.items``)
            # when it exists and may be read; otherwise this is the method.
            try:
                return run.read(f"{v[1]}.{name}")
            except (KeyError, ContractViolation):
                return object.__getattribute__(self, name)
        if name[0] == "_":
            raise run.deny(f"{v[1]}.{name}", "private", "private names are blocked")
        try:
            return run.read(f"{v[1]}.{name}")
        except KeyError:
            raise AttributeError(f"{v[1]}.{name} does not exist") from None

    def __setattr__(self, name: str, value: Any) -> None:
        v = _view(self)
        if name[0] == "_":
            raise v[0].deny(f"{v[1]}.{name}", "private", "private names are blocked")
        v[0].write(f"{v[1]}.{name}", value)

    def __delattr__(self, name: str) -> None:
        v = _view(self)
        v[0].delete(f"{v[1]}.{name}")

    def __getitem__(self, key: str) -> Any:
        v = _view(self)
        if not isinstance(key, str) or key[:1] == "_":
            raise v[0].deny(f"{v[1]}.{key}", "private", "bad key")
        return v[0].read(f"{v[1]}.{key}")

    def __setitem__(self, key: str, value: Any) -> None:
        v = _view(self)
        if not isinstance(key, str) or key[:1] == "_":
            raise v[0].deny(f"{v[1]}.{key}", "private", "bad key")
        v[0].write(f"{v[1]}.{key}", value)

    def __delitem__(self, key: str) -> None:
        v = _view(self)
        v[0].delete(f"{v[1]}.{key}")

    def __contains__(self, key: object) -> bool:
        v = _view(self)
        return isinstance(key, str) and v[0].has(f"{v[1]}.{key}")

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def path(self) -> str:
        return _view(self)[1]  # type: ignore[no-any-return]

    def _whole(self) -> Any:
        v = _view(self)
        return v[0].whole(v[1])

    def keys(self) -> Any:
        return View._whole(self).keys()

    def items(self) -> Any:
        return View._whole(self).items()

    def values(self) -> Any:
        return View._whole(self).values()

    def to_dict(self) -> dict[str, Any]:
        return thaw(View._whole(self))  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return iter(View._whole(self))

    def __len__(self) -> int:
        return len(View._whole(self))

    def __repr__(self) -> str:
        return f"<View {_view(self)[1]}>"


_view: Callable[[View], tuple[Any, ...]] = View._v.__get__  # type: ignore[attr-defined]
_set_view = View._v.__set__  # type: ignore[attr-defined]


def _new_view(run: _Run, prefix: str) -> View:
    view = object.__new__(View)
    _set_view(view, (run, prefix))
    return view
