"""Which OpenTelemetry resource attributes may become Prometheus labels.

``prometheusremotewrite`` with ``resource_to_telemetry_conversion`` copies every resource
attribute of a metric into a label. SDKs and detectors add per-process and per-instance
attributes (``process.pid``, ``service.instance.id``, ``host.name``, ``process.command_args``):
as labels, each restart of a pod starts new series. The gateway therefore runs a
``transform`` processor in every metrics pipeline that feeds such an exporter, keeping only
:data:`METRIC_LABEL_ATTRIBUTES` on the resource (the conversion then turns exactly those
into labels; ``target_info`` carries no more either). :func:`cardinality_errors` checks a
configuration for it, and is part of the collector's construction-time checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Resource attributes kept as metric labels (dots become underscores in Prometheus).
METRIC_LABEL_ATTRIBUTES = ("service.name", "service.namespace", "deployment.environment",
                           "k8s.namespace.name", "k8s.pod.name")
PROCESSOR = "transform/metric-labels"
_KEEP = "keep_keys(attributes, [{keys}])"


def keep_statement(keys: tuple[str, ...] = METRIC_LABEL_ATTRIBUTES) -> str:
    """The OTTL statement (resource context) keeping only ``keys``."""
    return _KEEP.format(keys=", ".join(f'"{k}"' for k in keys))


def metric_label_processor() -> dict[str, Any]:
    """The ``transform`` processor's configuration."""
    return {"error_mode": "ignore",
            "metric_statements": [{"context": "resource", "statements": [keep_statement()]}]}


def kept_attributes(processor: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The attributes a transform processor's resource statements keep, or None when it
    keeps everything (no single ``keep_keys`` on the resource's attributes)."""
    kept: tuple[str, ...] | None = None
    for group in processor.get("metric_statements") or []:
        if not isinstance(group, Mapping) or group.get("context") != "resource":
            continue
        for statement in group.get("statements") or []:
            text = str(statement).strip()
            if not text.startswith("keep_keys(attributes, [") or not text.endswith("])"):
                continue
            inner = text[len("keep_keys(attributes, ["):-2]
            keys = tuple(k.strip().strip('"') for k in inner.split(",") if k.strip())
            kept = keys if kept is None else tuple(k for k in kept if k in keys)
    return kept


def label_attributes(config: Mapping[str, Any], pipeline: str) -> tuple[str, ...] | None:
    """The resource attributes ``pipeline``'s exporters turn into labels: () when none,
    a tuple when a transform processor limits them, None when every attribute would."""
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    spec = pipelines.get(pipeline) or {}
    exporters = config.get("exporters") or {}
    converting = [name for name in spec.get("exporters", [])
                  if ((exporters.get(name) or {}).get("resource_to_telemetry_conversion")
                      or {}).get("enabled")]
    if not converting:
        return ()
    processors = config.get("processors") or {}
    kept: tuple[str, ...] | None = None
    for name in spec.get("processors", []):
        if str(name).split("/", 1)[0] != "transform":
            continue
        found = kept_attributes(processors.get(name) or {})
        if found is not None:
            kept = found if kept is None else tuple(k for k in kept if k in found)
    return kept


def cardinality_errors(config: Mapping[str, Any]) -> list[str]:
    """Metrics pipelines whose exporters would turn resource attributes other than
    :data:`METRIC_LABEL_ATTRIBUTES` into labels."""
    errors = []
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    for name in pipelines:
        if str(name).split("/", 1)[0] != "metrics":
            continue
        kept = label_attributes(config, name)
        if kept is None:
            errors.append(f"pipeline {name}: every resource attribute becomes a metric label "
                          f"(add {PROCESSOR} keeping {', '.join(METRIC_LABEL_ATTRIBUTES)})")
        else:
            extra = [k for k in kept if k not in METRIC_LABEL_ATTRIBUTES]
            if extra:
                errors.append(f"pipeline {name}: resource attributes {', '.join(extra)} "
                              "would become metric labels")
    return errors
