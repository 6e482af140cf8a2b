"""The Kubernetes manifests (k8s/base and the dev and prod overlays), checked offline with
the tools a platform team runs: ``kubectl kustomize`` renders each overlay,
``kubernetes-validate --strict`` validates every rendered document, checkov fails no check
that k8s/checkov-skips.yaml does not list with its reason; and what the deployment promises
(the probes, the autoscaler, one beat, locked-down pods, the network policies) is asserted."""

from __future__ import annotations

import base64
import configparser

import yaml

from tests.deploy.support import (
    K8S,
    component,
    find,
    run,
    searchop_workloads,
    tool,
    workloads,
)

SKIPS = yaml.safe_load((K8S / "checkov-skips.yaml").read_text())


def test_each_overlay_renders_with_kubectl_kustomize(docs, overlay):
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}

    assert ("Deployment", "searchop-web") in kinds
    assert ("Deployment", "searchop-worker") in kinds
    assert ("Deployment", "searchop-beat") in kinds
    assert ("Job", "searchop-migrate") in kinds
    assert ("HorizontalPodAutoscaler", "searchop-web") in kinds
    assert ("PodDisruptionBudget", "searchop-web") in kinds
    assert all(doc["metadata"].get("namespace") == "searchop" for doc in docs if doc["kind"] != "Namespace")


def test_every_rendered_document_passes_kubernetes_validate_strict(rendered, overlay, tmp_path):
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(rendered[overlay])

    result = run([tool("kubernetes-validate"), "--strict", "--quiet", str(path)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_strict_refuses_a_misspelt_field(rendered, tmp_path):
    """The validation has teeth: a field Kubernetes does not know fails it."""
    path = tmp_path / "broken.yaml"
    path.write_text(rendered["prod"].replace("readinessProbe:", "readinesProbe:", 1))

    result = run([tool("kubernetes-validate"), "--strict", "--quiet", str(path)])

    assert result.returncode != 0
    assert "readinesProbe" in result.stdout + result.stderr


def test_checkov_fails_no_check_that_the_skip_file_does_not_list_with_its_reason(checkov_failures):
    listed = {(skip["check"], resource) for skip in SKIPS for resource in skip["resources"]}

    unlisted = [
        failure for failure in checkov_failures if (failure["check_id"], failure["resource"]) not in listed
    ]

    assert not unlisted, yaml.safe_dump(unlisted)


def test_every_skip_still_matches_a_failure_and_says_why(checkov_failures):
    failed = {(failure["check_id"], failure["resource"]) for failure in checkov_failures}

    for skip in SKIPS:
        assert len(skip["reason"]) > 80, f"{skip['check']}: say why"
        stale = [resource for resource in skip["resources"] if (skip["check"], resource) not in failed]
        assert not stale, f"{skip['check']} no longer fails for {stale}: remove them from the skip file"


def test_checkov_finds_nothing_to_fail_in_the_dockerfile(checkov_failures):
    assert [failure for failure in checkov_failures if failure["file"] == "Dockerfile"] == []


def test_beat_is_exactly_one_replica_recreated_never_two_and_never_autoscaled(docs):
    beat = find(docs, "Deployment", "searchop-beat")
    autoscaled = {
        doc["spec"]["scaleTargetRef"]["name"] for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"
    }

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "searchop-beat" not in autoscaled
    assert beat["spec"]["template"]["spec"]["containers"][0]["command"][:3] == [
        "celery",
        "--app=searchop_site",
        "beat",
    ]


def test_web_is_ready_on_ready_alive_on_health_and_both_ask_for_an_allowed_host(docs):
    web = find(docs, "Deployment", "searchop-web")["spec"]["template"]["spec"]["containers"][0]
    config = find(docs, "ConfigMap", "searchop-config")["data"]

    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web["startupProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        host = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}["Host"]
        assert host in config["ALLOWED_HOSTS"].split(",")


def test_the_autoscaler_scales_web_from_2_to_10_on_cpu_and_owns_its_replica_count(docs):
    autoscaler = find(docs, "HorizontalPodAutoscaler", "searchop-web")["spec"]
    web = find(docs, "Deployment", "searchop-web")

    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "searchop-web",
    }
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (2, 10)
    assert [metric["resource"]["name"] for metric in autoscaler["metrics"]] == ["cpu"]
    # A replica count in the Deployment would reset the autoscaler's on every apply.
    assert "replicas" not in web["spec"]
    # Utilisation is counted against the request: every web container must have one.
    assert web["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_a_disruption_budget_keeps_one_web_pod_through_a_drain(docs):
    budget = find(docs, "PodDisruptionBudget", "searchop-web")["spec"]
    web = find(docs, "Deployment", "searchop-web")

    assert budget["minAvailable"] == 1
    assert budget["selector"] == web["spec"]["selector"]


def test_every_pod_is_locked_down(docs):
    """Non-root, read-only root filesystem, no privilege escalation, no capability, seccomp
    RuntimeDefault, no service-account token: for SearchOp's pods and the dev overlay's."""
    for doc, pod in workloads(docs):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] >= 10000, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where


def test_what_a_searchop_pod_writes_is_an_emptydir(docs):
    """The root filesystem is read-only: /tmp and every other written path is a volume."""
    for doc, pod in searchop_workloads(docs):
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in pod["containers"][0]["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], doc["metadata"]["name"]
        if component(doc) in ("web", "worker"):  # they cache compiled models
            assert "emptyDir" in volumes[mounts["/var/lib/searchop"]], doc["metadata"]["name"]
        if component(doc) == "web":  # Prometheus's multiprocess files
            assert "emptyDir" in volumes[mounts["/var/run/prometheus"]]


def test_every_secret_a_pod_reads_is_a_mounted_file(docs):
    config = find(docs, "ConfigMap", "searchop-config")["data"]

    for doc, pod in searchop_workloads(docs):
        container = pod["containers"][0]
        assert not any("valueFrom" in variable for variable in container.get("env", [])), doc["metadata"][
            "name"
        ]
        secrets = next(volume["secret"] for volume in pod["volumes"] if "secret" in volume)
        mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "secrets")
        files = {f"{mount}/{item['path']}" for item in secrets["items"]}
        for name in ("SECRET_KEY_FILE", "DATABASE_URL_FILE", "REDIS_URL_FILE"):
            assert config[name] in files, (doc["metadata"]["name"], name)
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(config)


def test_the_ingress_routes_the_api_admin_and_static_files_and_never_metrics_or_probes(docs):
    ingress = find(docs, "Ingress", "searchop-web")
    host = ingress["spec"]["rules"][0]["host"]
    config = find(docs, "ConfigMap", "searchop-config")["data"]

    paths = [path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]

    assert sorted(paths) == ["/admin", "/api", "/static"]
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    assert host in config["ALLOWED_HOSTS"].split(",")
    assert config["CSRF_TRUSTED_ORIGINS"] == f"https://{host}"


def test_web_is_reachable_only_from_the_ingress_controller_and_prometheus(docs):
    policy = find(docs, "NetworkPolicy", "searchop-web-ingress")["spec"]

    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    sources = {
        source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for source in rule["from"]
    }
    assert sources == {"ingress-nginx", "monitoring"}
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_the_worker_beat_and_migrations_accept_no_connection(docs):
    policy = find(docs, "NetworkPolicy", "searchop-background-no-ingress")["spec"]
    selected = next(
        expression["values"]
        for expression in policy["podSelector"]["matchExpressions"]
        if expression["key"] == "app.kubernetes.io/component"
    )

    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == []
    assert sorted(selected) == sorted(
        component(doc) for doc, _ in searchop_workloads(docs) if component(doc) != "web"
    )


def test_the_dev_overlay_pools_every_connection_through_pgbouncer_in_transaction_mode(rendered):
    docs = [doc for doc in yaml.safe_load_all(rendered["dev"]) if doc]
    pgbouncer_ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    pgbouncer_ini.read_string(find(docs, "ConfigMap", "searchop-pgbouncer")["data"]["pgbouncer.ini"])
    secret = find(docs, "Secret", "searchop-secrets")
    config = find(docs, "ConfigMap", "searchop-config")["data"]

    assert pgbouncer_ini["pgbouncer"]["pool_mode"] == "transaction"
    assert "@pgbouncer:6432/" in _decoded(secret, "database-url")
    # What Django needs behind a transaction pooler (prepared statements are off already).
    assert config["DATABASE_DISABLE_SERVER_SIDE_CURSORS"] == "1"
    assert {"postgres", "redis", "pgbouncer"} <= {doc["metadata"]["name"] for doc, _ in workloads(docs)}


def test_the_prod_overlay_deploys_no_database_and_generates_no_secret(rendered):
    docs = [doc for doc in yaml.safe_load_all(rendered["prod"]) if doc]

    assert not [doc for doc in docs if doc["kind"] in ("Secret", "StatefulSet", "PersistentVolumeClaim")]
    assert {doc["metadata"]["name"] for doc, _ in workloads(docs)} == {
        "searchop-web",
        "searchop-worker",
        "searchop-beat",
        "searchop-migrate",
    }
    images = {pod["containers"][0]["image"] for _, pod in workloads(docs)}
    assert images == {"registry.example.com/searchop:0.1.0"}


def test_each_overlay_sets_its_own_public_host(docs):
    assert find(docs, "Ingress", "searchop-web")["spec"]["rules"][0]["host"] != "searchop.invalid"


def _decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()
