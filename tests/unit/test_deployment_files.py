"""What can be checked of docker-compose.yml, the Dockerfile and .env.example without Docker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import yaml

from service.cli import main as kindred_cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
README = (ROOT / "README.md").read_text()

KINDRED_SERVICES = {"migrate", "api", "worker", "scheduler"}
LONG_RUNNING = set(SERVICES) - {"migrate"}
# Read by Settings but never part of a production deployment, or set by the image itself.
NOT_FOR_PRODUCTION = {
    "KINDRED_WEBHOOK_ALLOW_PRIVATE",
    "KINDRED_FAULT_DELAY_BEFORE_SECONDS",
    "KINDRED_FAULT_DELAY_AFTER_SECONDS",
    "KINDRED_REQUIRE_POSTGRES",
    "KINDRED_SHARED_DATA",
    "KINDRED_PORT",  # `kindred run` only
}


def dockerfile_instruction(name: str) -> list[str]:
    """The exec (JSON) form of a Dockerfile instruction, e.g. ENTRYPOINT ["kindred"]."""
    match = re.search(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert match, f"the Dockerfile has no {name} in exec form"
    return json.loads(match.group(1))


ENTRYPOINT = dockerfile_instruction("ENTRYPOINT")


def resolve(argv: list[str]) -> click.Command:
    """The `kindred` command that argv names, with its options and arguments parsed by click
    (a wrong option, a missing argument or an unknown subcommand raises)."""
    assert argv[0] == "kindred", argv
    command, args, path = kindred_cli, list(argv[1:]), ["kindred"]
    while isinstance(command, click.Group):
        assert args and args[0] in command.commands, f"{' '.join(argv)}: no such command"
        path.append(args[0])
        command = command.commands[args.pop(0)]
    with command.make_context(" ".join(path), args) as context:
        assert context.command is command
    return command


def container_argv(service: dict) -> list[str]:
    return [*ENTRYPOINT, *service["command"]]


def env_example_variables() -> dict[str, str]:
    """Every variable .env.example sets or shows (commented out), with its value."""
    found = {}
    for line in ENV_EXAMPLE.splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def readme_table_variables() -> set[str]:
    """The variables in the first column of the README's Configuration table."""
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            found |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
            # `KINDRED_FAULT_DELAY_BEFORE_SECONDS`, `..._AFTER_SECONDS`
            for short in re.findall(r"`\.\.\.(_[A-Z0-9_]+)`", line.split("|")[1]):
                found |= {re.sub(r"_[A-Z]+_SECONDS$", short, name) for name in found}
    return found


def test_the_compose_file_and_its_services_parse():
    assert {"postgres", "redis", "mailpit", *KINDRED_SERVICES} == set(SERVICES)
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data", "models"}


def test_the_image_runs_kindred_as_its_entry_point():
    assert ENTRYPOINT == ["kindred"]
    resolve([*ENTRYPOINT, *dockerfile_instruction("CMD")])
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'kindred = "service.cli:main"' in pyproject


def test_the_image_is_built_without_dev_dependencies_and_runs_as_a_user():
    for folder in ("service", "workers", "migrations"):
        assert f"COPY {folder} ./{folder}" in DOCKERFILE
    install = re.search(r"pip install[^\n]*", DOCKERFILE).group(0)
    assert "[dev]" not in install and "-e ." in install  # migrations are read beside the code
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")


def test_every_kindred_service_runs_an_existing_kindred_command():
    kindred_services = {name for name, service in SERVICES.items() if "build" in service}
    assert kindred_services == KINDRED_SERVICES
    expected = {
        "migrate": kindred_cli.commands["db"].commands["upgrade"],
        "api": kindred_cli.commands["serve"],
        "worker": kindred_cli.commands["worker"],
        "scheduler": kindred_cli.commands["scheduler"],
    }
    for name in KINDRED_SERVICES:
        assert resolve(container_argv(SERVICES[name])) is expected[name], name


def test_services_wait_for_what_they_need():
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "scheduler"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert SERVICES["worker"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check_and_restarts():
    for name in LONG_RUNNING:
        check = SERVICES[name]["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1, name
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"  # one-shot


def test_the_api_health_check_asks_readyz_on_the_served_port():
    command = SERVICES["api"]["command"]
    port = command[command.index("--port") + 1]
    check = " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in check
    assert any(mapping.endswith(f":{port}") for mapping in SERVICES["api"]["ports"])


def test_the_worker_and_scheduler_health_checks_are_kindred_alive():
    for name in ("worker", "scheduler"):
        check = SERVICES[name]["healthcheck"]["test"]
        assert check[:2] == ["CMD", "kindred"], name
        assert resolve(check[1:]) is kindred_cli.commands["alive"], name
        assert check[-1] == name


def test_workers_can_scale_and_the_scheduler_is_one():
    for name, service in SERVICES.items():
        assert "container_name" not in service, name  # a fixed name cannot be scaled
    assert "ports" not in SERVICES["worker"]  # a fixed host port cannot be scaled
    assert SERVICES["scheduler"].get("deploy", {}).get("replicas", 1) == 1


def test_warm_shutdown_has_time_to_finish():
    def seconds(value: str) -> int:
        match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
        return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)

    # gunicorn's --graceful-timeout is 20 s (service.cli.gunicorn_args).
    assert seconds(SERVICES["api"]["stop_grace_period"]) > 20
    assert seconds(SERVICES["worker"]["stop_grace_period"]) >= 30
    assert "stop_grace_period" in SERVICES["scheduler"]


def test_redis_is_configured_as_a_queue():
    command = " ".join(SERVICES["redis"]["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert any(volume.endswith(":/data") for volume in SERVICES["redis"]["volumes"])
    assert any(
        volume.endswith(":/var/lib/postgresql/data") for volume in SERVICES["postgres"]["volumes"]
    )


def test_kindred_sends_email_to_the_mail_sink_by_default():
    mailpit = SERVICES["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert all(mapping.startswith("127.0.0.1:") for mapping in mailpit["ports"])
    for name in KINDRED_SERVICES:
        smtp = SERVICES[name]["environment"]["KINDRED_SMTP_URL"]
        assert smtp == "${KINDRED_SMTP_URL:-smtp://mailpit:1025}", name


def test_every_variable_is_documented_in_the_readme_table():
    documented = readme_table_variables()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    used |= set(env_example_variables())
    for service in SERVICES.values():
        environment = service.get("environment") or {}
        used |= set(environment if isinstance(environment, dict) else [])
    used -= {"POSTGRES_USER", "POSTGRES_DB"}  # the postgres image's own settings
    missing = sorted(used - documented)
    assert not missing, f"not in the README's Configuration table: {missing}"


def test_env_example_covers_every_production_setting():
    """Every variable Settings.from_env reads is in .env.example, set by compose, or not for
    production (then named in .env.example's closing note all the same)."""
    config = (ROOT / "service" / "config.py").read_text()
    read = set(re.findall(r"""environ(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]*)["']""", config))
    read |= set(re.findall(r"""_int\(\s*["']([A-Z][A-Z0-9_]*)["']""", config))
    assert {"DATABASE_URL", "SECRET_KEY", "KINDRED_API_RATE_LIMIT"} <= read  # the regexes work
    set_by_compose = set(SERVICES["api"]["environment"])
    set_by_image = set(re.findall(r"\b(KINDRED_[A-Z_]+)=", DOCKERFILE))
    example = env_example_variables()
    for variable in sorted(read):
        if variable in NOT_FOR_PRODUCTION:
            assert variable.split("_SECONDS")[0] in ENV_EXAMPLE, variable
        else:
            assert variable in example or variable in set_by_compose | set_by_image, variable


def test_env_example_values_are_safe_to_paste():
    example = env_example_variables()
    assert {"POSTGRES_PASSWORD", "SECRET_KEY", "KINDRED_PUBLIC_URL"} <= set(example)
    for name, value in example.items():
        assert " #" not in value and not value.startswith(("'", '"')), name
    # The password goes into DATABASE_URL unescaped.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", example["POSTGRES_PASSWORD"])


def test_workers_share_fitted_models_through_one_volume_the_image_prepares():
    """Each worker would otherwise fit its own copy after every change (docs/scaling.md)."""
    var_dir = re.search(r"KINDRED_VAR_DIR=(\S+)", DOCKERFILE).group(1)
    assert f"models:{var_dir}/models" in SERVICES["worker"]["volumes"]
    # Made in the image and owned by kindred, so the new named volume is writable by it.
    assert re.search(rf"mkdir -p {var_dir}/models && chown -R kindred {var_dir}\b", DOCKERFILE)
