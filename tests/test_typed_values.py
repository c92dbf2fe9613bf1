"""Reading values are read through each signal family's typed values, never by string key.

A renamed key must be a type error, not a silent dash on a panel or an unknown guard: so
outside cockpit/sources/ (where each family encodes and decodes its own values) nothing reads
`reading.values["key"]`, `reading.values.get("key")`, `"key" in reading.values` or
`reading.number("key")`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGE = ROOT / "cockpit" / "sources"
CONSUMERS = ("cockpit", "screens", "widgets")


def _is_values(node: ast.expr) -> bool:
    """`<anything>.values`, a local named `values`, or anything made of a journaled reading's
    `values` object (`json_object(raw.get("values"))`)."""
    if isinstance(node, ast.Attribute) and node.attr == "values":
        return True
    if isinstance(node, ast.Name) and node.id == "values":
        return True
    return any(_names_values_key(inner) for inner in ast.walk(node))


def _names_values_key(node: ast.AST) -> bool:
    """`x.get("values")` or `x["values"]`: the values object of a reading read back as JSON."""
    if isinstance(node, ast.Subscript):
        return _literal(node.slice) == "values"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and bool(node.args)
        and _literal(node.args[0]) == "values"
    )


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def string_key_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, key) of every read of a reading's values by a literal key."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_values(node.value):
            key = _literal(node.slice)
            if key is not None:
                yield node.lineno, key
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            key = _literal(node.args[0])
            method, owner = node.func.attr, node.func.value
            if key is not None and (method == "number" or (method == "get" and _is_values(owner))):
                yield node.lineno, key
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            key = _literal(node.left)
            membership = isinstance(node.ops[0], ast.In | ast.NotIn)
            if key is not None and membership and _is_values(node.comparators[0]):
                yield node.lineno, key


def consumer_files() -> Iterator[Path]:
    for package in CONSUMERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if OWN_PACKAGE not in path.parents and "sandbox" not in path.parts:
                yield path


def test_no_string_key_reads_outside_the_sources() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {key!r}"
        for path in consumer_files()
        for line, key in string_key_reads(ast.parse(path.read_text()))
    ]
    assert found == []


def test_a_string_key_read_is_caught() -> None:
    program = (
        "a = reading.values.get('healthy')\n"
        "b = reading.values['side']\n"
        "c = 'error' in reading.values\n"
        "d = reading.number('latency_seconds')\n"
        "e = values.get('on')\n"
        "f = json_object(json_object(raw.get('values')).get('weights'))\n"
    )
    keys = sorted(key for _, key in string_key_reads(ast.parse(program)))
    assert keys == sorted(["healthy", "side", "error", "latency_seconds", "on", "weights"])
