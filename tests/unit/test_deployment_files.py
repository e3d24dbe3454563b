"""What can be checked of docker-compose.yml and the Dockerfile without a Docker engine."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click import Group

from service.cli import main as kindred_cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def kindred_commands(group: Group, prefix=()) -> set[tuple[str, ...]]:
    found = set()
    for name, command in group.commands.items():
        found.add((*prefix, name))
        if isinstance(command, Group):
            found |= kindred_commands(command, (*prefix, name))
    return found


def test_every_kindred_service_runs_an_existing_command():
    commands = kindred_commands(kindred_cli)
    kindred_services = {
        name: service for name, service in COMPOSE["services"].items() if "build" in service
    }
    assert set(kindred_services) == {"migrate", "api", "worker", "scheduler"}
    for name, service in kindred_services.items():
        argv = service["command"]
        assert argv[0] == "kindred", name
        words = tuple(word for word in argv[1:] if not word.startswith("-"))
        assert any(words[: len(cmd)] == cmd for cmd in commands), (name, argv)


def test_services_wait_for_what_they_need():
    services = COMPOSE["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    for name in ("postgres", "redis", "api"):
        assert "healthcheck" in services[name]


def test_redis_is_configured_as_a_queue():
    command = " ".join(COMPOSE["services"]["redis"]["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command


def test_every_variable_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    compose_text = (ROOT / "docker-compose.yml").read_text()
    env_example = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", compose_text))
    used |= {line.split("=")[0] for line in env_example.splitlines() if "=" in line}
    for service in COMPOSE["services"].values():
        environment = service.get("environment") or {}
        used |= set(environment if isinstance(environment, dict) else [])
    used -= {"POSTGRES_USER", "POSTGRES_DB"}  # the postgres image's own settings
    for variable in sorted(used):
        assert f"`{variable}`" in readme, f"{variable} is not in the README's table"


def test_dockerfile_installs_the_package_with_its_entry_point():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("service", "workers", "migrations"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert "pip install" in dockerfile and "USER kindred" in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'kindred = "service.cli:main"' in pyproject
