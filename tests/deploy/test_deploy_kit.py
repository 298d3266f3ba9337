"""The deploy kit (deploy/) checked offline: hadolint for the Dockerfile, the compose-spec schema
(vendored in check-jsonschema) for compose.yaml, kubernetes-validate's bundled schemas for the
manifests, and what the issue asks of each; every validator is also shown to fail on a broken file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from saas_app.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "hadolint", path)


def compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", path)


def kube_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "kubernetes-validate", "--strict", "--quiet", *paths)


def _documents() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kind(kind: str) -> list[dict]:
    return [doc for doc in _documents() if doc["kind"] == kind]


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text((DEPLOY / "Dockerfile").read_text().replace("USER 10001:10001", "USER app")
                      + "RUN cd /tmp && pip install flask\n")
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3003" in result.stdout and "DL3013" in result.stdout


def test_one_multi_stage_image_runs_as_a_non_root_user_and_builds_the_frontend() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3
    assert "reflex export --frontend-only" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    for command in ("web)", "worker)", "migrate)"):
        assert command in entrypoint


def test_the_image_entrypoint_migrates_a_database(tmp_path: Path) -> None:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    script = (DEPLOY / "entrypoint.sh").read_text().replace("cd /app", f"cd {PROJECT_ROOT}")
    result = subprocess.run(["sh", "-c", script, "entrypoint", "migrate"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_compose_file_matches_the_compose_spec() -> None:
    result = compose_check(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_check_fails_on_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text((DEPLOY / "compose.yaml").read_text().replace("stop_grace_period:", "stop_grace_periods:", 1))
    result = compose_check(broken)
    assert result.returncode != 0
    assert "stop_grace_periods" in result.stdout + result.stderr


def test_compose_runs_two_apps_two_workers_and_their_services_behind_a_websocket_proxy() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert services["app"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    assert services["app"]["command"] == ["web"] and services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert {"postgres", "redis", "minio", "proxy"} <= set(services)
    nginx = (DEPLOY / "nginx" / "default.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade" in nginx and "proxy_read_timeout 3600s" in nginx
    assert services["app"]["environment"]["SECURE_COOKIES"] == "true"


def test_compose_shares_state_and_files_through_services_not_sticky_sessions() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    env = services["app"]["environment"]
    assert env["STORAGE_BACKEND"] == "s3" and env["S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["REFLEX_REDIS_URL"].endswith("@redis:6379/1") and env["REDIS_URL"].endswith("@redis:6379/0")
    assert "ip_hash" not in (DEPLOY / "nginx" / "default.conf").read_text().split("upstream", 1)[1]
    assert services["minio-bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "minio-bucket" in services["app"]["depends_on"]
    assert all(not volume.startswith("appdata") for volume in services["app"]["volumes"])
    assert "exec python -m saas_app.web" in (DEPLOY / "entrypoint.sh").read_text()


def test_kubernetes_manifests_validate_against_the_bundled_schemas() -> None:
    assert len(MANIFESTS) >= 6
    result = kube_validate(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_manifest_check_fails_on_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "app.yaml"
    broken.write_text((DEPLOY / "k8s" / "app.yaml").read_text().replace("containerPort: 3000", "containerPort: http"))
    result = kube_validate(broken)
    assert result.returncode != 0
    unknown = tmp_path / "worker.yaml"
    unknown.write_text((DEPLOY / "k8s" / "worker.yaml").read_text().replace("minReplicas: 2", "minReplica: 2"))
    assert kube_validate(unknown).returncode != 0


def test_manifests_have_what_production_needs() -> None:
    deployments = {d["metadata"]["name"]: d for d in _kind("Deployment")}
    assert set(deployments) == {"studio-app", "studio-worker"}
    app = deployments["studio-app"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"]["path"] == "/api/health"
    worker = deployments["studio-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["exec"]["command"][-1] == "--alive"
    for doc in (*_kind("Deployment"), *_kind("Job")):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), doc["metadata"]["name"]
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    [job] = _kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    [hpa] = _kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "studio-worker"
    assert {p["metadata"]["name"] for p in _kind("PodDisruptionBudget")} == {"studio-app", "studio-worker"}
    [ingress] = _kind("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert ingress["spec"]["tls"]
    assert _kind("ConfigMap") and _kind("Secret") and _kind("Service")
    assert not [key for key in ingress["metadata"]["annotations"] if "affinity" in key or "session-cookie" in key]
    config = _kind("ConfigMap")[0]["data"]
    assert config["STORAGE_BACKEND"] == "s3" and config["S3_BUCKET"]
    assert {"REFLEX_REDIS_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} <= set(_kind("Secret")[0]["stringData"])
    grace = int(_kind("ConfigMap")[0]["data"]["WORKER_SHUTDOWN_GRACE_SECONDS"])
    assert deployments["studio-worker"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


@pytest.mark.parametrize("command", sorted(set(re.findall(r"python -m (saas_app\.[\w.]+)",
                                                           (PROJECT_ROOT / "docs" / "deploy.md").read_text()))))
def test_every_command_in_the_runbooks_exists(command: str) -> None:
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({command!r}) is None)"
    result = _run(BIN / "python", "-c", check)
    assert result.returncode == 0, f"docs/deploy.md names python -m {command}, which does not exist"
