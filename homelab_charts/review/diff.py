"""A diff of rendered objects (not of files) between two trees, grouped by the Flux
Kustomization that applies them.

Both sides are ``{path: YAML text}`` trees (see :mod:`homelab_charts.tree`). Objects
are matched by API group, kind, namespace and name, so moving an object to another file
is no change, while moving it to a folder another Flux Kustomization applies is reported
(the old Kustomization prunes it, the new one creates it again). Changed objects get a
unified diff of their YAML with keys in sorted order.

Secret values never appear: a SealedSecret's ``spec.encryptedData`` values (and a plain
Secret's ``data``/``stringData``) are replaced by a placeholder in every output, and a
change to them is reported only by key: added, removed or re-sealed.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from homelab_charts.docpath import field_at
from homelab_charts.progress import Progress
from homelab_charts.tree import FluxKustomization, ObjectId, Tree, TreeObject, cluster_folder

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
MOVED = "moved"
STATUSES = (CHANGED, MOVED, ADDED, REMOVED)

SEALED_PLACEHOLDER = "<sealed>"
SECRET_PLACEHOLDER = "<secret value>"
SEALED_NOTE = "changed (sealed values not shown)"
#: Objects in folders no Flux Kustomization applies.
UNAPPLIED = "(not applied by any Flux Kustomization)"

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# -- secrets ------------------------------------------------------------------------------

def _secret_fields(obj_id: ObjectId) -> tuple[tuple[str, ...], ...]:
    """Where an object keeps values that must never be printed."""
    if obj_id.kind == "SealedSecret" and obj_id.group == "bitnami.com":
        return (("spec", "encryptedData"),)
    if obj_id.kind == "Secret" and obj_id.group == "":
        return (("data",), ("stringData",))
    return ()


def secret_values(obj: TreeObject) -> dict[str, Any]:
    """``{"spec.encryptedData.<key>": value}`` of every secret value of the object."""
    values: dict[str, Any] = {}
    for path in _secret_fields(obj.id):
        found = field_at(obj.body, path)
        if isinstance(found, Mapping):
            for key, value in found.items():
                values[f"{'.'.join(path)}.{key}"] = value
        elif found is not None:
            values[".".join(path)] = found
    return values


def redacted(obj: TreeObject) -> Mapping[str, Any]:
    """The object with every secret value replaced by a placeholder."""
    fields = _secret_fields(obj.id)
    if not fields:
        return obj.body
    body = copy.deepcopy(dict(obj.body))
    placeholder = SEALED_PLACEHOLDER if obj.id.kind == "SealedSecret" else SECRET_PLACEHOLDER
    for path in fields:
        parent = field_at(body, path[:-1])
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        found = parent[path[-1]]
        if isinstance(found, Mapping):
            parent[path[-1]] = {k: placeholder for k in found}
        elif found is not None:
            parent[path[-1]] = placeholder
    return body


@dataclass(frozen=True)
class SecretChange:
    """Secret keys (``spec.encryptedData.<key>``) added, removed or given a new value."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    resealed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.resealed)

    def describe(self) -> str:
        parts = [f"{label}: {', '.join(keys)}" for label, keys in
                 (("re-sealed", self.resealed), ("added", self.added),
                  ("removed", self.removed)) if keys]
        return f"{SEALED_NOTE}: {'; '.join(parts)}" if parts else SEALED_NOTE

    def as_dict(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed),
                "resealed": list(self.resealed)}


def secret_change(old: TreeObject, new: TreeObject) -> SecretChange | None:
    if not _secret_fields(new.id):
        return None
    before, after = secret_values(old), secret_values(new)
    return SecretChange(
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
        resealed=tuple(sorted(k for k in set(before) & set(after) if before[k] != after[k])),
    )


# -- the diff -----------------------------------------------------------------------------

def object_yaml(obj: TreeObject) -> str:
    """The object as YAML, keys sorted, secret values redacted."""
    return yaml.dump(redacted(obj), Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=4096)


@dataclass
class ObjectChange:
    status: str
    id: ObjectId
    api_version: str
    file: str  # the new file (the old one for a removed object)
    old_file: str | None = None
    old_group: str | None = None  # the Kustomization that applied it before a move
    diff: list[str] = field(default_factory=list)  # unified diff lines, no line ends
    secrets: SecretChange | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "apiVersion": self.api_version, "kind": self.id.kind,
            "namespace": self.id.namespace or None, "name": self.id.name, "file": self.file,
            "oldFile": self.old_file, "movedFrom": self.old_group,
            "diff": "\n".join(self.diff) + "\n" if self.diff else "",
            "sealed": self.secrets.as_dict() if self.secrets is not None else None,
            "note": self.secrets.describe() if self.secrets else None,
        }


@dataclass
class Group:
    """The changes of the objects one Flux Kustomization applies."""

    name: str  # the Kustomization's label (``namespace/name`` outside flux-system)
    path: str | None  # its folder, None for objects nothing applies
    layer: int
    changes: list[ObjectChange] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.changes) for s in STATUSES}


@dataclass
class TreeDiff:
    base: str
    head: str
    groups: list[Group]
    unchanged: int
    objects: int  # in the head tree

    @property
    def identical(self) -> bool:
        return not any(g.changes for g in self.groups)

    def counts(self) -> dict[str, int]:
        total = dict.fromkeys(STATUSES, 0)
        for group in self.groups:
            for status, n in group.counts().items():
                total[status] += n
        return total


def _unified(old: TreeObject, new: TreeObject, base: str, head: str) -> list[str]:
    before, after = object_yaml(old), object_yaml(new)
    if before == after:
        return []
    return list(difflib.unified_diff(
        before.splitlines(), after.splitlines(), lineterm="",
        fromfile=f"{base}:{old.file}", tofile=f"{head}:{new.file}", n=3))


def _group_key(owner: FluxKustomization | None) -> str:
    return owner.label if owner is not None else UNAPPLIED


def diff_trees(old_files: Mapping[str, str], new_files: Mapping[str, str], *,
               base: str = "base", head: str = "head", base_where: str | None = None,
               head_where: str | None = None, progress: bool | None = False) -> TreeDiff:
    """Compare two trees object by object.

    ``base``/``head`` name the sides in the output; ``base_where``/``head_where`` prefix
    file names in errors (a commit id: ``1a2b3c4:apps/x.yaml``; ``""`` for files on disk;
    default ``base``/``head``). ``progress``: draw progress bars on stderr (``None``: when
    it is a terminal; ``False`` never, for machine-readable output)."""
    base_where = base if base_where is None else base_where
    head_where = head if head_where is None else head_where
    with Progress(len(old_files) + len(new_files), "reading objects", enabled=progress,
                  min_total=100) as bar:
        old_tree = Tree(old_files, label=base_where, advance=bar.advance)
        new_tree = Tree(new_files, label=head_where, advance=bar.advance)
    old, new = old_tree.objects, new_tree.objects
    old_owners, new_owners = old_tree.owners, new_tree.owners

    def layer_of(owner: FluxKustomization) -> int:
        """Its layer in its own cluster's graph (a tree may hold several clusters), the new
        tree's when the Kustomization is in both."""
        def same(k: FluxKustomization) -> bool:
            return ((cluster_folder(k.file), k.namespace, k.name)
                    == (cluster_folder(owner.file), owner.namespace, owner.name))

        for tree in (new_tree, old_tree):
            found = next((k for k in tree.kustomizations if same(k)), None)
            if found is not None:
                return tree.layer_of(found)
        return 0

    groups: dict[str, Group] = {}

    def group_for(owner: FluxKustomization | None) -> Group:
        key = _group_key(owner)
        if key not in groups:
            if owner is None:
                groups[key] = Group(key, None, 1 << 30)
            else:
                layer = -1 if owner.bootstrap else layer_of(owner)
                groups[key] = Group(key, f"./{owner.path}" if owner.path else "./", layer)
        return groups[key]

    unchanged = 0
    ids = sorted(set(old) | set(new))
    with Progress(len(ids), "comparing objects", enabled=progress) as bar:
        for oid in ids:
            bar.advance()
            before, after = old.get(oid), new.get(oid)
            if before is None and after is not None:
                group_for(new_owners.of(after.file)).changes.append(
                    ObjectChange(ADDED, oid, after.api_version, after.file))
                continue
            if after is None and before is not None:
                group_for(old_owners.of(before.file)).changes.append(
                    ObjectChange(REMOVED, oid, before.api_version, before.file))
                continue
            assert before is not None and after is not None
            old_group = _group_key(old_owners.of(before.file))
            new_owner = new_owners.of(after.file)
            moved = old_group != _group_key(new_owner)
            same = before.body == after.body and before.api_version == after.api_version
            if same and not moved:
                unchanged += 1
                continue
            change = ObjectChange(
                MOVED if same else CHANGED, oid, after.api_version, after.file,
                old_file=before.file if before.file != after.file else None,
                old_group=old_group if moved else None)
            if not same:
                change.diff = _unified(before, after, base, head)
                change.secrets = secret_change(before, after)
            group_for(new_owner).changes.append(change)

    order = {s: i for i, s in enumerate(STATUSES)}
    ordered = sorted(groups.values(), key=lambda g: (g.layer, g.name))
    for group in ordered:
        group.changes.sort(key=lambda c: (order[c.status], c.id.sort_key()))
    return TreeDiff(base, head, [g for g in ordered if g.changes], unchanged, len(new))


# -- output -------------------------------------------------------------------------------

def _summary(result: TreeDiff) -> str:
    counts = result.counts()
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    return ", ".join([*parts, f"{result.unchanged} unchanged"])


def _group_title(group: Group) -> str:
    if group.path is None:
        return group.name
    return f"Kustomization {group.name} ({group.path})"


def _notes(change: ObjectChange) -> list[str]:
    notes: list[str] = []
    if change.old_group is not None:
        notes.append(f"moved from Kustomization {change.old_group}: it is pruned there and "
                     "created again here")
    if change.old_file is not None:
        notes.append(f"was in {change.old_file}")
    if change.secrets is not None and change.secrets:
        notes.append(change.secrets.describe())
    return notes


Colour = Callable[[str, str], str]

_COLOURS = {"added": "32", "removed": "31", "changed": "33", "moved": "36", "+": "32",
            "-": "31", "@": "36", "title": "1"}


def ansi(text: str, what: str) -> str:
    code = _COLOURS.get(what)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def _plain(text: str, what: str) -> str:
    return text


def format_text(result: TreeDiff, *, color: bool = False) -> str:
    paint: Colour = ansi if color else _plain
    lines = [f"diff of rendered objects: {result.base} -> {result.head}"]
    if result.identical:
        lines.append(f"no changes: {result.unchanged} objects identical")
        return "\n".join(lines) + "\n"
    for group in result.groups:
        lines.append("")
        lines.append(paint(_group_title(group), "title"))
        for change in group.changes:
            lines.append(f"  {paint(f'{change.status:<8}', change.status)} "
                         f"{change.id.display()}  [{change.file}]")
            lines.extend(f"      {note}" for note in _notes(change))
            for line in change.diff:
                what = "" if line.startswith(("+++", "---")) else line[:1]
                lines.append("      " + paint(line, what))
    lines.append("")
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def format_json(result: TreeDiff) -> str:
    doc = {
        "base": result.base, "head": result.head, "identical": result.identical,
        "summary": {**result.counts(), "unchanged": result.unchanged,
                    "objects": result.objects},
        "groups": [{"kustomization": g.name if g.path is not None else None, "path": g.path,
                    "layer": g.layer if g.path is not None else None,
                    "objects": [c.as_dict() for c in g.changes]} for g in result.groups],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


#: First line of the markdown output: CI finds its own pull-request comment by it.
MARKDOWN_MARKER = "<!-- homelab-charts diff -->"
#: GitHub refuses comments over 65 536 characters; diffs are dropped to stay below this.
MARKDOWN_LIMIT = 60_000


def _md(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|"))


def _code(text: str) -> str:
    return f"<code>{_md(text)}</code>"


def _fence(lines: list[str]) -> tuple[str, str]:
    """Opening and closing code fences longer than any backtick run in ``lines``."""
    ticks = "`" * max(3, _longest_backtick_run(lines) + 1)
    return f"{ticks}diff", ticks


def _longest_backtick_run(lines: list[str]) -> int:
    best = 0
    for line in lines:
        run = 0
        for ch in line:
            run = run + 1 if ch == "`" else 0
            best = max(best, run)
    return best


_OMITTED_NOTE = ("_{} object diff(s) left out to fit a comment; run `homelab-charts diff` "
                 "locally for all of them._")
_TABLE_OMITTED = "_Object list left out to fit a comment; run `homelab-charts diff` locally._"


def format_markdown(result: TreeDiff, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: a summary line, then one collapsible section a Kustomization
    with a table of objects and each changed object's diff (collapsed)."""
    head = [MARKDOWN_MARKER, "### Flux tree diff", "",
            f"Rendered objects of `{result.head}` compared with `{result.base}`.", ""]
    if result.identical:
        head.append(f"**No changes** ({result.unchanged} objects identical).")
        return "\n".join(head) + "\n"
    head.append(f"**{_summary(result)}**")
    head.append("")
    sections: list[tuple[list[str], list[list[str]]]] = []
    for group in result.groups:
        counts = ", ".join(f"{n} {s}" for s, n in group.counts().items() if n)
        title = (f"Kustomization <b>{_md(group.name)}</b> <code>{_md(group.path)}</code>"
                 if group.path is not None else _md(group.name))
        table = [f"<details><summary>{title}: {counts}</summary>", "",
                 "| | Object | File | Notes |", "|---|---|---|---|"]
        for change in group.changes:
            notes = "<br>".join(_md(n) for n in _notes(change))
            table.append(f"| {change.status} | {_code(change.id.display())} | "
                         f"{_code(change.file)} | {notes} |")
        table.append("")
        diffs: list[list[str]] = []
        for change in group.changes:
            if not change.diff:
                continue
            opening, closing = _fence(change.diff)
            diffs.append([f"<details><summary>{_md(change.id.display())}</summary>", "",
                          opening, *change.diff, closing, "", "</details>", ""])
        sections.append((table, diffs))
    tail = ["</details>", ""]

    def cost(lines: list[str]) -> int:
        return sum(len(line) + 1 for line in lines)

    # Tables first: if even they do not fit, the last groups keep their counts only.
    reserve = cost(head) + len(_OMITTED_NOTE) + 16  # the note, with room for its number
    tables = [table for table, _ in sections]
    for i in range(len(tables) - 1, -1, -1):
        if reserve + sum(cost([*t, *tail]) for t in tables) <= limit:
            break
        tables[i] = [*tables[i][:1], "", _TABLE_OMITTED, ""]
    budget = limit - reserve - sum(cost([*t, *tail]) for t in tables)
    omitted = 0
    body: list[str] = []
    for table, (_, diffs) in zip(tables, sections, strict=True):
        body.extend(table)
        for block in diffs:
            if cost(block) <= budget:
                body.extend(block)
                budget -= cost(block)
            else:
                omitted += 1
        body.extend(tail)
    if omitted:
        body.append(_OMITTED_NOTE.format(omitted))
    return "\n".join([*head, *body]) + "\n"
