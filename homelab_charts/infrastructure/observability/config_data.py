"""Configuration files generated as data: a Python dict, dumped to YAML into a ConfigMap.

The dict is the source of truth (tests read it back from the generated ConfigMap); the
pod template carries a checksum of the file so a configuration change rolls the pods.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping
from typing import Any

import yaml
from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.workloads import ConfigFile

CHECKSUM_ANNOTATION = "checksum/config"
#: Prometheus/Loki durations (Go model.Duration): units y, w, d, h, m, s, ms, largest first.
_DURATION = re.compile(r"^(?!$)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1,
                   "ms": 0.001}
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def dump(config: Mapping[str, Any]) -> str:
    """The YAML text of ``config`` (keys in the order they were built; libyaml's emitter,
    which writes what PyYAML's own writes, several times faster)."""
    return yaml.dump(dict(config), Dumper=yaml.CSafeDumper, sort_keys=False,
                     default_flow_style=False, width=4096)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def duration_seconds(where: str, field: str, value: str) -> float:
    """Seconds in a Prometheus/Loki duration such as ``15d`` or ``168h``; else a ConfigError."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(where, field,
                          f"{value!r} is not a duration such as 15d, 168h or 1w2d "
                          "(units y, w, d, h, m, s, ms; largest first)")
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value):
        total += int(number) * _DURATION_UNITS[unit]
    if total <= 0:
        raise ConfigError(where, field, f"{value!r} must be longer than zero")
    return total


class ConfigDocument(Manifest):
    """A ConfigMap ``name`` holding one file, rendered from ``config``, that pods read at
    ``path`` (its key is the file name of ``path``)::

        config = ConfigDocument(self, "config", name=f"{name}-config",
                                path="/etc/jaeger/config.yaml", config=jaeger_config(...))
        Container(..., config_files=(config.file,))
        WebService(..., pod_annotations=config.pod_annotations)

    ``annotation`` is the pod annotation carrying the file's checksum (``checksum/config``
    unless a pod reads two documents).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, path: str,
                 config: Mapping[str, Any], annotation: str = CHECKSUM_ANNOTATION) -> None:
        key = posixpath.basename(path)
        if not path.startswith("/") or not _CONFIG_KEY.match(key):
            raise ConfigError(construct_path(scope, id), "path",
                              f"{path!r} must be an absolute file path whose file name is a "
                              "ConfigMap key (a-z, A-Z, 0-9, '-', '_', '.')")
        self.config = config
        self.text = dump(config)
        self.key = key
        self.path = path
        self.annotation = annotation
        super().__init__(scope, id, api_version="v1", kind="ConfigMap", name=name,
                         body={"data": {key: self.text}})

    @property
    def file(self) -> ConfigFile:
        """The file as a container mounts it (read-only, at ``path``)."""
        return ConfigFile(self.object_name, self.key, self.path)

    @property
    def pod_annotations(self) -> dict[str, str]:
        """``{annotation: checksum}``: on the pod template, a changed file rolls the pods."""
        return {self.annotation: self.checksum}

    @property
    def checksum(self) -> str:
        return checksum(self.text)

    def update(self, config: Mapping[str, Any]) -> None:
        """Replace the file's content (before the tree is rendered)."""
        self.config = config
        self.text = dump(config)
        self.body["data"] = {self.key: self.text}
