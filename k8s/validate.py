"""Check the manifests without a cluster: every file parses (yaml.safe_load_all), every
document has apiVersion, kind and a name, kustomization.yaml lists files that exist,
selectors match their pod labels, and every ConfigMap/Secret key a pod reads is defined.

    python k8s/validate.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def main() -> int:
    problems: list[str] = []
    manifests = {path.name: documents(path) for path in sorted(HERE.glob("*.yaml"))}
    kustomization = manifests.pop("kustomization.yaml")[0]
    for name in kustomization["resources"]:
        if name not in manifests:
            problems.append(f"kustomization.yaml lists {name}, which does not exist")

    config = {}
    secret_keys = set()
    for docs in manifests.values():
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                config = doc["data"]
            if doc["kind"] == "Secret":
                secret_keys = set(doc["stringData"])

    for file, docs in manifests.items():
        for doc in docs:
            where = f"{file}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            if not all(doc.get(key) for key in ("apiVersion", "kind", "metadata")) or not doc["metadata"].get(
                "name"
            ):
                problems.append(f"{where}: needs apiVersion, kind and metadata.name")
            spec = doc.get("spec", {})
            template = spec.get("template", {})
            selector = spec.get("selector", {}).get("matchLabels")
            if selector and template:
                labels = template["metadata"]["labels"]
                if any(labels.get(key) != value for key, value in selector.items()):
                    problems.append(f"{where}: the selector does not match the pod labels")
            for container in template.get("spec", {}).get("containers", []):
                for source in container.get("envFrom", []):
                    if source.get("configMapRef", {}).get("name") != "searchop-config":
                        problems.append(f"{where}: reads an unknown ConfigMap")
                for variable in container.get("env", []):
                    ref = variable.get("valueFrom", {}).get("secretKeyRef")
                    if ref and ref["key"] not in secret_keys:
                        problems.append(f"{where}: reads secret key {ref['key']}, not in secret.example.yaml")
                context = container.get("securityContext", {})
                if context.get("allowPrivilegeEscalation") is not False or not context.get(
                    "readOnlyRootFilesystem"
                ):
                    problems.append(f"{where}: container {container['name']} is not locked down")
            pod_context = template.get("spec", {}).get("securityContext", {})
            if template and not pod_context.get("runAsNonRoot"):
                problems.append(f"{where}: pods must run as non-root")
    if "SECRET_KEY" in config or "DATABASE_URL" in config:
        problems.append("configmap.yaml: secrets belong in the Secret")

    for problem in problems:
        print(problem)
    print(
        f"{sum(len(docs) for docs in manifests.values()) + 1} documents in {len(manifests) + 1} files: "
        f"{'OK' if not problems else f'{len(problems)} problem(s)'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
