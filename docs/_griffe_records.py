"""Griffe extension (mkdocs.yml): give ``@record`` / ``@variant`` classes their ``__init__``.

The configuration and credential classes declare one annotated line per field
(``name: T = setting(default=...)``) and the decorators make ``__init__`` from them at import
time, as ``dataclasses`` does. Static analysis sees only the fields; this adds the constructor
the docstrings' *Parameters* sections describe, unless the class writes its own.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe

_DECORATORS = {"record", "variant"}


def _decorated(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name in _DECORATORS:
            return True
    return False


def _parameter(statement: ast.AnnAssign) -> griffe.Parameter | None:
    """The constructor parameter of one field declaration (None: not an ``__init__`` field)."""
    if not isinstance(statement.target, ast.Name):
        return None
    annotation = ast.unparse(statement.annotation)
    if annotation.startswith(("ClassVar", "typing.ClassVar")):
        return None
    default: str | None = None
    value = statement.value
    is_setting = (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "setting"
    )
    if is_setting:
        assert isinstance(value, ast.Call)
        keywords = {k.arg: k.value for k in value.keywords}
        if isinstance(keywords.get("init"), ast.Constant) and not keywords["init"].value:
            return None
        if "default" in keywords:
            default = ast.unparse(keywords["default"])
    elif value is not None:
        default = ast.unparse(value)
    return griffe.Parameter(
        statement.target.id,
        annotation=annotation,
        kind=griffe.ParameterKind.positional_or_keyword,
        default=default,
    )


class RecordInit(griffe.Extension):
    """Add the generated ``__init__`` to record and variant classes."""

    def on_class_members(self, *, node: Any, cls: griffe.Class, **kwargs: Any) -> None:
        if not isinstance(node, ast.ClassDef) or not _decorated(node):
            return
        if "__init__" in cls.members:
            return
        parameters = [griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)]
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign):
                parameter = _parameter(statement)
                if parameter is not None:
                    parameters.append(parameter)
        cls.set_member(
            "__init__",
            griffe.Function(
                "__init__",
                lineno=node.lineno,
                endlineno=node.end_lineno,
                parameters=griffe.Parameters(*parameters),
            ),
        )
