"""The deployment files, checked statically (no Docker engine here): the training image builds
from the repository's own files, the compose setup has every service with healthchecks and no
literal secret, and the Kubernetes job template fits MLflow's kubernetes backend. The same parts
run natively in tests/study/test_postgres.py (`augplat server` with the compose flags)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SERVICES = {"postgres", "minio", "minio-init", "mlflow", "ray-head", "ray-worker"}


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_training_image_builds_from_repository_files():
    steps = _instructions(DOCKER / "Dockerfile")
    assert steps[0][0] == "FROM"
    copies = [shlex.split(arg) for op, arg in steps if op == "COPY"]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is not in the repository"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run = " ".join(arg for op, arg in steps if op == "RUN")
    for extra in re.findall(r"extra\['(\w+)'\]", run):
        assert extra in extras["optional-dependencies"], extra
    assert "pip install --no-cache-dir --no-deps ." in run and "augplat --help" in run
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "docker/.env"} <= set(ignored)
    env = " ".join(arg for op, arg in steps if op == "ENV")
    for var in ("AUGPLAT_HOME", "AUGPLAT_STUDIES", "AUGPLAT_PIPELINES", "AUGPLAT_PROJECT"):
        assert var in env


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_has_every_service_with_healthchecks(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        if name != "minio-init":  # a one-shot job
            assert service.get("healthcheck", {}).get("test"), name
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services
            assert condition["condition"] in ("service_healthy", "service_completed_successfully")
    for name in ("mlflow", "ray-head", "ray-worker"):
        service = services[name]
        assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert "augplat-train" in service["image"]
    for mount in services["postgres"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("."):
            assert (DOCKER / source).is_file(), source


def test_compose_ports_bind_to_loopback(compose):
    published = {
        name: [str(p) for p in service.get("ports", [])]
        for name, service in compose["services"].items()
    }
    assert "127.0.0.1:5000:5000" in published["mlflow"]
    assert any(p.endswith(":8265") for p in published["ray-head"])
    for ports in published.values():
        assert all(p.startswith("127.0.0.1:") for p in ports), ports


def test_compose_secrets_come_from_the_environment(compose):
    text = (DOCKER / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = (DOCKER / ".env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, flags=re.M))
    assert used <= defined | {"AUGPLAT_IMAGE"}, used - defined
    for service in compose["services"].values():
        env = service.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET", key):
                assert str(value).startswith("${"), key
    assert "POSTGRES_PASSWORD" not in " ".join(compose["services"]["mlflow"]["command"])
    assert (ROOT / ".gitignore").read_text().count("docker/.env") == 1


def test_compose_mlflow_runs_augplat_server_with_the_shared_setup(compose):
    mlflow = compose["services"]["mlflow"]
    command = mlflow["command"]
    assert command[:2] == ["augplat", "server"]
    assert "--auth" in command
    assert command[command.index("--artifacts-destination") + 1].startswith("s3://mlflow")
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert "mlflow:5000" in command[command.index("--allowed-hosts") + 1]
    help_text = subprocess.run(
        [sys.executable, "-m", "augplat", "server", "--help"], capture_output=True, text=True
    ).stdout
    for option in (arg for arg in command if arg.startswith("--")):
        assert option in help_text, f"augplat server has no {option}"
    workers = compose["services"]["ray-worker"]["environment"]
    assert workers["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert workers["AUGPLAT_STUDY_STORAGE"].startswith("postgresql://")
    assert "--address=ray-head:6379" in compose["services"]["ray-worker"]["command"]


def test_kubernetes_job_template_fits_mlflow():
    config = json.loads((DOCKER / "kubernetes" / "backend-config.json").read_text())
    assert {"repository-uri", "kube-job-template-path", "image"} <= set(config)
    template_path = DOCKER / "kubernetes" / config["kube-job-template-path"]
    job = yaml.safe_load(template_path.read_text())
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    assert "name" in job["metadata"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    container = spec["containers"][0]
    assert {"name", "image", "command"} <= set(container)  # MLflow replaces these
    for var in container["env"]:
        assert "value" not in var or "PASSWORD" not in var["name"]
    secret_vars = {v["name"] for v in container["env"] if "valueFrom" in v}
    assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= secret_vars
