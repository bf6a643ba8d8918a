"""YAML loading that remembers line numbers, so errors can point at ``file:line``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nscheck.signatures import SignatureError


class _LineLoader(yaml.SafeLoader):
    pass


class LinedDict(dict):
    """A mapping that knows the line of each key (1-based)."""

    lines: dict[str, int]
    start_line: int


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LinedDict:
    d = LinedDict()
    d.lines = {}
    d.start_line = node.start_mark.line + 1
    for k_node, v_node in node.value:
        key = loader.construct_object(k_node, deep=True)
        if key in d:
            raise SignatureError(loader.name, f"duplicate key {key!r}", line=k_node.start_mark.line + 1)
        d[key] = loader.construct_object(v_node, deep=True)
        d.lines[str(key)] = k_node.start_mark.line + 1
    return d


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay strings: the schema validates them, and YAML's implicit date typing hides typos.
_LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    """Load one YAML file; syntax errors become SignatureError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SignatureError(path, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise SignatureError(path, "not UTF-8 text") from None
    loader = _LineLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except SignatureError:
        raise
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise SignatureError(path, f"YAML syntax: {e.problem or e}", line=line) from None
    except yaml.YAMLError as e:
        raise SignatureError(path, f"YAML syntax: {e}") from None
    finally:
        loader.dispose()


def line_of(obj: Any, key: str) -> int | None:
    if isinstance(obj, LinedDict):
        return obj.lines.get(key, obj.start_line)
    return None
