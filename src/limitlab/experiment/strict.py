"""The strict base of every params model: unknown keys are errors, a boolean is never read as a number, and a
number is finite.

pydantic's lax mode reads ``true`` as 1 (``epochs: true`` would train one epoch); :class:`Strict` refuses a
bool wherever the field's annotation does not admit one. Both the experiment schema and every method's config
derive from it. ``.inf`` and ``.nan`` (or the strings "inf", "nan") are refused in every float field: no learning
rate, rate or hyperparameter of the paper's protocol is infinite, and a NaN would only surface as a diverged run.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator


def _bool_allowed(tp: Any) -> bool:
    """Whether the type annotation ``tp`` admits a bool (bool, Any, Literal[True/False], a union of those)."""
    if tp is bool or tp is Any:
        return True
    origin = get_origin(tp)
    if origin is Literal:
        return any(isinstance(a, bool) for a in get_args(tp))
    if origin is Annotated:
        return _bool_allowed(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return any(_bool_allowed(a) for a in get_args(tp))
    return False


def _item_types(tp: Any) -> list[Any] | None:
    """Element types of the list/tuple members of the annotation ``tp`` (None: no sequence type in it)."""
    origin = get_origin(tp)
    if origin in (list, tuple):
        return [a for a in get_args(tp) if a is not Ellipsis]
    if origin is Annotated:
        return _item_types(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        found = [t for a in get_args(tp) for t in (_item_types(a) or [])]
        return found or None
    return None


def misplaced_bool(tp: Any, value: Any) -> bool:
    """True when ``value`` is (or, in a list, holds) a bool where ``tp`` expects a number or text.

    pydantic's lax mode reads true as 1 (``epochs: true`` would train one epoch); a bool is only accepted where
    the field admits one.
    """
    if isinstance(value, bool):
        return not _bool_allowed(tp)
    if isinstance(value, (list, tuple)):
        items = _item_types(tp)
        if items is None:
            return False
        item_tp = Union[tuple(items)] if len(items) > 1 else items[0]
        return any(misplaced_bool(item_tp, v) for v in value)
    return False


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                f = cls.model_fields.get(name)
                if f is not None and misplaced_bool(f.annotation, value):
                    raise ValueError(f"{name}: {value!r} holds a boolean (true/false) where a number or text is "
                                     "expected; write the value itself")
        return data
