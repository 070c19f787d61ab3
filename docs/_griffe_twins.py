"""Griffe extension (mkdocs.yml): document ``x = blocking(x_async, "doc")`` as a method ``x``.

The facades make each blocking method from its coroutine twin (``icechunk._sync.blocking``).
Static analysis would see an attribute; this turns it into a function with the twin's
parameters and return type and the docstring given to ``blocking``.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


def _blocking_call(value: ast.AST | None) -> tuple[ast.Call, bool] | None:
    """The ``blocking(...)`` call of an assignment, and whether ``staticmethod`` wraps it."""
    static = False
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "staticmethod"
        and value.args
    ):
        value, static = value.args[0], True
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "blocking":
        return value, static
    return None


class BlockingTwins(griffe.Extension):
    """Replace each ``blocking`` attribute of a class by a documented method."""

    def on_class_members(self, *, node: Any, cls: griffe.Class, **kwargs: Any) -> None:
        if not isinstance(node, ast.ClassDef):
            return
        for statement in node.body:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
                continue
            target = statement.targets[0]
            found = _blocking_call(statement.value)
            if found is None or not isinstance(target, ast.Name):
                continue
            call, static = found
            twin_name = call.args[0].id if isinstance(call.args[0], ast.Name) else None
            twin = cls.members.get(twin_name) if twin_name else None
            if not isinstance(twin, griffe.Function):
                continue
            function = griffe.Function(
                target.id,
                lineno=statement.lineno,
                endlineno=statement.end_lineno,
                parameters=griffe.Parameters(
                    *(
                        griffe.Parameter(
                            p.name, annotation=p.annotation, kind=p.kind, default=p.default
                        )
                        for p in twin.parameters
                    )
                ),
                returns=twin.returns,
                docstring=griffe.Docstring(
                    ast.literal_eval(call.args[1]),
                    lineno=statement.lineno,
                    parser=twin.docstring.parser if twin.docstring else None,
                    parser_options=twin.docstring.parser_options if twin.docstring else None,
                ),
            )
            if static:
                function.labels.add("staticmethod")
            cls.set_member(target.id, function)
