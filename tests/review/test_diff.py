"""The object diff on in-memory trees: matching, grouping, redaction and output formats."""

from __future__ import annotations

import json

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.review.diff import (
    MARKDOWN_MARKER,
    UNAPPLIED,
    diff_trees,
    format_json,
    format_markdown,
    format_text,
    object_yaml,
)
from homelab_charts.tree import file_objects

from .conftest import HEADER, NEW_CIPHERTEXT, OLD_CIPHERTEXT, deployment, sample_tree


def statuses(result) -> list[tuple[str, str, str]]:
    return [(g.name, c.status, c.id.display()) for g in result.groups for c in g.changes]


def test_identical_trees() -> None:
    result = diff_trees(sample_tree(), sample_tree())
    assert result.identical and result.unchanged == 9 and result.objects == 9
    assert statuses(result) == []
    assert "no changes: 9 objects identical" in format_text(result)
    assert json.loads(format_json(result))["identical"] is True


def test_key_order_and_file_layout_do_not_matter() -> None:
    new = sample_tree()
    # the same Deployment with keys in another order, in another YAML style and file
    del new["apps/web/deployment.yaml"]
    new["apps/web/all.yaml"] = (
        "kind: Deployment\napiVersion: apps/v1\nspec: {replicas: 2, selector: {matchLabels: "
        "{app.kubernetes.io/name: web}}, template: {spec: {containers: [{image: "
        "'registry.example/web:v1.0.0-abcdef0-prod', name: web}]}, metadata: {labels: "
        "{app.kubernetes.io/name: web}}}}\nmetadata: {namespace: web, name: web, labels: "
        "{app.kubernetes.io/name: web}}\n")
    assert diff_trees(sample_tree(), new).identical


def test_changed_object_diff_has_sorted_keys() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(replicas=4)
    result = diff_trees(sample_tree(), new, base="main", head="branch")
    assert statuses(result) == [("web", "changed", "Deployment web/web")]
    diff = result.groups[0].changes[0].diff
    assert diff[0] == "--- main:apps/web/deployment.yaml"
    assert diff[1] == "+++ branch:apps/web/deployment.yaml"
    assert "-  replicas: 2" in diff and "+  replicas: 4" in diff
    # keys in sorted order, whatever order the file had
    shuffled = ("spec:\n  replicas: 1\n  paused: false\nmetadata:\n  name: a\n"
                "kind: Deployment\napiVersion: apps/v1\n")
    text = object_yaml(file_objects("a.yaml", shuffled)[0])
    assert text == ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n"
                    "spec:\n  paused: false\n  replicas: 1\n")


def test_api_version_bump_is_a_change_of_the_same_object() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment().replace("apps/v1", "apps/v2")
    result = diff_trees(sample_tree(), new)
    assert statuses(result) == [("web", "changed", "Deployment web/web")]
    assert "+apiVersion: apps/v2" in result.groups[0].changes[0].diff


def test_groups_follow_the_dependency_layers() -> None:
    new = {rel: text.replace("replicas: 1", "replicas: 2").replace("replicas: 2\n  selector",
                                                                       "replicas: 3\n  selector")
           for rel, text in sample_tree().items()}
    new["clusters/homelab/namespaces.yaml"] += "---\napiVersion: v1\nkind: Namespace\n" \
                                               "metadata:\n  name: extra\n"
    result = diff_trees(sample_tree(), new)
    # flux-system (bootstrap) first, then cache (layer 0), then web (depends on cache)
    assert [(g.name, g.path, g.layer) for g in result.groups] == [
        ("flux-system", "./clusters/homelab", -1),
        ("cache", "./infrastructure/cache", 0),
        ("web", "./apps/web", 1),
    ]


def test_objects_no_kustomization_applies_are_grouped_apart() -> None:
    new = sample_tree()
    new["apps/orphan/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n" \
                                 "  namespace: web\n"
    result = diff_trees(sample_tree(), new)
    assert statuses(result) == [(UNAPPLIED, "added", "ConfigMap web/x")]
    assert result.groups[0].path is None
    assert UNAPPLIED in format_text(result)


def test_removed_kustomization_groups_its_objects_by_the_old_tree() -> None:
    new = sample_tree()
    new["clusters/homelab/kustomizations.yaml"] = new[
        "clusters/homelab/kustomizations.yaml"].split("---\napiVersion: kustomize.toolkit."
                                                     "fluxcd.io/v1\nkind: Kustomization\n"
                                                     "metadata:\n  name: web")[0]
    for rel in [r for r in new if r.startswith("apps/web/")]:
        del new[rel]
    result = diff_trees(sample_tree(), new)
    assert statuses(result) == [
        ("flux-system", "removed", "Kustomization flux-system/web"),
        ("web", "removed", "Deployment web/web"),
        ("web", "removed", "Ingress web/web"),
        ("web", "removed", "Service web/web"),
    ]


def test_plain_secret_values_are_never_shown() -> None:
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: web\n"
              "stringData:\n  password: {}\n")
    old = {**sample_tree(), "apps/web/secret.yaml": secret.format("hunter2")}
    new = {**sample_tree(), "apps/web/secret.yaml": secret.format("correct-horse")}
    result = diff_trees(old, new)
    outputs = format_text(result) + format_json(result) + format_markdown(result)
    assert "hunter2" not in outputs and "correct-horse" not in outputs
    assert "re-sealed: stringData.password" in outputs


def test_sealed_secret_with_other_changes_shows_them_redacted() -> None:
    from .conftest import sealed_secret

    old = sample_tree()
    new = sample_tree()
    new["clusters/homelab/secrets/web.yaml"] = sealed_secret(password=NEW_CIPHERTEXT).replace(
        "    type: Opaque", "    type: kubernetes.io/basic-auth")
    result = diff_trees(old, new)
    (change,) = result.groups[0].changes
    assert "-    type: Opaque" in change.diff
    assert "+    type: kubernetes.io/basic-auth" in change.diff
    assert all(OLD_CIPHERTEXT not in line and NEW_CIPHERTEXT not in line for line in change.diff)
    assert change.secrets is not None and change.secrets.resealed == (
        "spec.encryptedData.password",)


def test_duplicate_object_is_an_error_naming_both_files() -> None:
    new = sample_tree()
    new["apps/web/copy.yaml"] = deployment()
    with pytest.raises(ConfigError, match=r"head:apps/web/copy\.yaml: Deployment web/web: "
                                          r"defined twice \(also in apps/web/deployment\.yaml"):
        diff_trees(sample_tree(), new)


@pytest.mark.parametrize(("text", "message"), [
    ("apiVersion: v1\nmetadata: {name: x}\n", r"document 1: kind: missing"),
    ("kind: ConfigMap\nmetadata: {name: x}\n", r"document 1: apiVersion: missing"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
     r"document 1 \(ConfigMap\): metadata\.name: missing"),
    ("- just\n- a list\n", r"document 1: is not a mapping"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: [a]}\n",
     r"ConfigMap x: metadata\.namespace: must be a string"),
])
def test_bad_objects_name_file_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^head:apps/web/bad\.yaml: " + message):
        diff_trees(sample_tree(), {**sample_tree(), "apps/web/bad.yaml": text})


def test_kubernetes_lists_are_flattened() -> None:
    new = sample_tree()
    new["apps/web/list.yaml"] = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n"
                                 "  kind: ConfigMap\n  metadata: {name: a, namespace: web}\n")
    assert statuses(diff_trees(sample_tree(), new)) == [("web", "added", "ConfigMap web/a")]


def test_markdown_is_a_collapsible_comment() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(replicas=3)
    del new["infrastructure/cache/redis.yaml"]
    text = format_markdown(diff_trees(sample_tree(), new, base="main (abc1234)", head="pr"))
    assert text.startswith(MARKDOWN_MARKER + "\n")
    assert "**1 changed, 1 removed, 7 unchanged**" in text
    assert text.count("<details>") == text.count("</details>") == 3  # 2 groups + 1 diff
    assert "<summary>Kustomization <b>cache</b> <code>./infrastructure/cache</code>: " \
           "1 removed</summary>" in text
    assert "| changed | <code>Deployment web/web</code> | <code>apps/web/deployment.yaml</code>" \
           " |  |" in text
    assert "```diff\n--- main (abc1234):apps/web/deployment.yaml\n" in text
    assert "+  replicas: 3\n" in text and "\n```\n\n</details>" in text


def test_markdown_identical() -> None:
    text = format_markdown(diff_trees(sample_tree(), sample_tree()))
    assert "**No changes** (9 objects identical)." in text


def test_markdown_fence_is_longer_than_backticks_in_the_diff() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(image="x````y")
    text = format_markdown(diff_trees(sample_tree(), new))
    assert "`````diff\n" in text and "\n`````\n" in text


def test_markdown_stays_under_the_comment_limit() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(replicas=3)
    new["infrastructure/cache/redis.yaml"] = new["infrastructure/cache/redis.yaml"].replace(
        "replicas: 1", "replicas: 2")
    result = diff_trees(sample_tree(), new)
    full = format_markdown(result)
    assert "left out" not in full
    small = format_markdown(result, limit=len(full) - 100)
    assert len(small) <= len(full) - 100
    assert "_1 object diff(s) left out to fit a comment" in small
    # the summary table still lists every object
    assert "<code>StatefulSet cache/redis</code>" in small
    assert "<code>Deployment web/web</code>" in small
    # a limit too small even for the object tables keeps the counts
    tiny = format_markdown(result, limit=700)
    assert len(tiny) <= 700
    assert "Object list left out to fit a comment" in tiny
    assert "**2 changed, 7 unchanged**" in tiny


def test_json_shape() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(replicas=3)
    doc = json.loads(format_json(diff_trees(sample_tree(), new, base="b", head="h")))
    assert doc["summary"] == {"changed": 1, "moved": 0, "added": 0, "removed": 0,
                              "unchanged": 8, "objects": 9}
    (group,) = doc["groups"]
    assert (group["kustomization"], group["path"], group["layer"]) == ("web", "./apps/web", 1)
    (obj,) = group["objects"]
    assert {k: obj[k] for k in ("status", "apiVersion", "kind", "namespace", "name")} == {
        "status": "changed", "apiVersion": "apps/v1", "kind": "Deployment",
        "namespace": "web", "name": "web"}
    assert obj["sealed"] is None and obj["note"] is None


def test_text_colour() -> None:
    new = sample_tree()
    new["apps/web/deployment.yaml"] = deployment(replicas=3)
    result = diff_trees(sample_tree(), new)
    assert "\x1b[" not in format_text(result)
    coloured = format_text(result, color=True)
    assert "\x1b[32m+  replicas: 3\x1b[0m" in coloured
    assert "\x1b[31m-  replicas: 2\x1b[0m" in coloured


def test_generated_header_is_not_part_of_an_object() -> None:
    new = {rel: text.removeprefix(HEADER) for rel, text in sample_tree().items()}
    assert diff_trees(sample_tree(), new).identical
