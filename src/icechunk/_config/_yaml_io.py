"""serde_yaml's dialect on PyYAML: Rust enum variants as local tags (``!name value``)."""

from __future__ import annotations

from typing import Any, cast

import yaml

_STR_TAG = "tag:yaml.org,2002:str"


class Tagged:
    """A YAML node with an explicit local tag (``!name value``): a Rust enum variant."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.tag} {self.value!r}"


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes tagged scalars plain (``!Included 1``), as serde_yaml does."""

    def choose_scalar_style(self) -> str:
        ev = self.event
        if (
            isinstance(ev, yaml.ScalarEvent)
            and ev.style is None
            and ev.tag is not None
            and ev.tag.startswith("!")
            and not ev.tag.startswith("!!")
        ):
            me: Any = self
            if me.analysis is None:
                me.analysis = me.analyze_scalar(ev.value)
            a: Any = me.analysis
            if (
                not a.empty
                and not a.multiline
                and (a.allow_flow_plain if self.flow_level else a.allow_block_plain)
            ):
                return ""
        return cast(str, super().choose_scalar_style())


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    tag = "!" + data.tag
    value = data.value
    if isinstance(value, dict):
        return dumper.represent_mapping(tag, value)
    if isinstance(value, list):
        return dumper.represent_sequence(tag, value)
    text = str(value)
    style = None
    if isinstance(value, str) and dumper.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        style = "'"  # a string that would read back as a number, bool or null
    return dumper.represent_scalar(tag, text, style=style)


_Dumper.add_representer(Tagged, _represent_tagged)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when PyYAML has it) that keeps ``!Tag`` nodes as :class:`Tagged`."""


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        if node.value == "" and node.style is None:
            return Tagged(suffix, None)
        if node.style in (None, ""):  # plain: resolve like an untagged scalar
            tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        else:  # quoted: a string
            tag = _STR_TAG
        plain = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
        return Tagged(suffix, loader.construct_object(plain, deep=True))
    if isinstance(node, yaml.MappingNode):
        return Tagged(suffix, loader.construct_mapping(node, deep=True))
    assert isinstance(node, yaml.SequenceNode)
    return Tagged(suffix, loader.construct_sequence(node, deep=True))


_Loader.add_multi_constructor("!", _construct_tagged)


def dump_tree(tree: Any) -> bytes:
    """UTF-8 YAML of ``tree`` in serde_yaml's layout (block style, keys in order)."""
    text = yaml.dump(
        tree,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
    return text.encode("utf-8")


def load_tree(data: bytes | str) -> Any:
    """The tree of a YAML document, tagged nodes as :class:`Tagged`.

    Raises
    ------
    UnicodeDecodeError, yaml.YAMLError
        The bytes are not UTF-8 or not YAML.
    """
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    return yaml.load(text, Loader=_Loader)
