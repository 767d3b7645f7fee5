"""Compiling and versioning releases by the OCDS 1.1 merge rules, read from the shipped schema.

Objects merge field by field; arrays of objects that have an `id` merge by that id; any
other array (or one marked `wholeListMerge`) is replaced whole; `omitWhenMerged` fields
(`id`, `date`, `tag`) are dropped. Releases merge in date order.
"""

from __future__ import annotations

from typing import Any

from audit.ocds.schemas import schema

Path = tuple[str, ...]
Key = tuple[str | tuple[str, Any], ...]  # ("awards", ("id", "L1-1"), "status")


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        node = root["definitions"][ref.split("/")[-1]]
    return node


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def merge_rules(root: dict[str, Any] | None = None) -> dict[Path, str]:
    root = root or schema("release-schema.json")
    rules: dict[Path, str] = {}

    def walk(properties: dict[str, Any], path: Path) -> None:
        for name, raw in properties.items():
            node, here = _resolve(raw, root), (*path, name)
            if node.get("omitWhenMerged"):
                rules[here] = "omit"
            elif "array" in _types(node) and node.get("wholeListMerge"):
                rules[here] = "whole"
            elif "object" in _types(node) and "properties" in node:
                walk(node["properties"], here)
            elif "array" in _types(node) and "items" in node:
                items = _resolve(node["items"], root)
                if any(t != "object" for t in _types(items)) or "id" not in items.get(
                    "properties", {}
                ):
                    rules[here] = "whole"
                else:
                    walk(items["properties"], here)

    walk(root["properties"], ())
    return rules


def flatten(
    value: dict[str, Any], rules: dict[Path, str], key: Key = (), path: Path = ()
) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    for name, item in value.items():
        here_key, here = (*key, name), (*path, name)
        rule = rules.get(here)
        if rule == "omit":
            continue
        if isinstance(item, dict) and item:
            out.update(flatten(item, rules, here_key, here))
        elif (
            isinstance(item, list)
            and rule != "whole"
            and item
            and all(isinstance(i, dict) for i in item)
        ):
            for element in item:
                out.update(
                    flatten(element, rules, (*here_key, ("id", str(element.get("id")))), here)
                )
        else:
            out[here_key] = item
    return out


def unflatten(flat: dict[Key, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node: Any = root
        for i, part in enumerate(key):
            last = i == len(key) - 1
            if isinstance(part, tuple):
                element = next((e for e in node if e.get("id") == part[1]), None)
                if element is None:
                    # An element keeps its plain id, even in a versioned release.
                    element = {} if part[1] is None else {"id": part[1]}
                    node.append(element)
                node = element
                continue
            nxt = key[i + 1] if not last else None
            if last:
                if value is not None and not (part == "id" and isinstance(key[i - 1], tuple)):
                    node[part] = value
            elif isinstance(nxt, tuple):
                node = node.setdefault(part, [])
            else:
                node = node.setdefault(part, {})
    return root


def _ordered(releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(releases, key=lambda r: r["date"])


def compile_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    rules = merge_rules()
    flat: dict[Key, Any] = {("tag",): ["compiled"]}
    for release in _ordered(releases):
        flat[("id",)] = f"{release['ocid']}-{release['date']}"
        flat[("date",)] = release["date"]
        flat[("ocid",)] = release["ocid"]
        flat.update(flatten(release, rules))
    return unflatten(flat)


def version_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    rules = merge_rules()
    flat: dict[Key, Any] = {}
    for release in _ordered(releases):
        flat[("ocid",)] = release["ocid"]
        for key, value in flatten(release, rules).items():
            if key == ("ocid",):
                continue
            history = flat.setdefault(key, [])
            if history and history[-1]["value"] == value:
                continue
            history.append(
                {
                    "releaseID": release["id"],
                    "releaseDate": release["date"],
                    "releaseTag": release["tag"],
                    "value": value,
                }
            )
    return unflatten(flat)
