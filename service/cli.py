"""The `kindred` command: database, demo data, imports, and the processes of the service."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from service.bootstrap import Kindred, bootstrap
from service.config import Settings

log = logging.getLogger("kindred.cli")


# The long-running processes of a deployment log JSON unless KINDRED_LOG_FORMAT says otherwise;
# commands a person runs (and `kindred run`, on a laptop) log text.
JSON_LOG_COMMANDS = ("serve", "worker", "scheduler")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """kindred: a few good groups and peers with shared values."""
    from service.observability import logs

    default = "json" if ctx.invoked_subcommand in JSON_LOG_COMMANDS else "text"
    logs.configure(os.environ.get("KINDRED_LOG_LEVEL", "INFO"), logs.log_format(default))
    # Alembic announces each of its plugins at INFO; the migrations it runs are what matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@contextmanager
def wired() -> Iterator[Kindred]:
    """The wired service for one command, with its connections closed afterwards."""
    kindred = bootstrap()
    try:
        yield kindred
    finally:
        kindred.close()


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from service.adapters.migrations import upgrade

    upgrade(Settings.from_env().database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (e.g. base)."""
    from service.adapters.migrations import downgrade

    downgrade(Settings.from_env().database_url, revision)
    click.echo(f"database at {revision}")


@main.command("seed-demo")
@click.option("--members", "member_count", default=300, show_default=True)
@click.option("--listings", "listing_count", default=60, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing if the database has data already.")
def seed_demo_command(member_count: int, listing_count: int, if_empty: bool) -> None:
    """Fill the database with invented demo organizations, listings and members."""
    from service.demo.seed import credentials_path, is_seeded, seed_demo

    with wired() as kindred:
        if is_seeded(kindred):
            if if_empty:
                click.echo("demo data: database already has data, nothing added")
                return
            raise click.ClickException("the database already has data; seed-demo wants it empty")
        seed_demo(kindred, member_count=member_count, listing_count=listing_count)
        click.echo(f"demo data added; credentials in {credentials_path(kindred)}")


@main.command("create-coordinator")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.password_option()
def create_coordinator_command(email: str, display_name: str, password: str) -> None:
    """Create a coordinator account; prints its API token once."""
    from service.services.coordinators import create_coordinator

    with wired() as kindred:
        account = create_coordinator(kindred.uow(), email, display_name, password)
    click.echo(f"coordinator {account.coordinator.id} created. API token (shown once):")
    click.echo(account.token)


@main.command("import-listings")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_name", required=True, help="Organization that will own the listings.")
@click.option("--create-org", is_flag=True, help="Create the organization if it does not exist.")
@click.option(
    "--show-skipped", default=20, show_default=True, help="How many skipped rows to list."
)
def import_listings_command(csv_file: Path, org_name: str, create_org: bool, show_skipped: int):
    """Load listings from a CSV shaped like NYC Open Data's volunteer opportunities."""
    from tqdm import tqdm

    from service.domain.errors import DomainError
    from service.importing.nyc_volunteer import import_rows, read_rows
    from service.services.importer_setup import owner_for_import

    rows = list(read_rows(csv_file))
    with wired() as kindred:
        try:
            partner = owner_for_import(kindred.uow(), org_name, create_org)
        except DomainError as error:
            raise click.ClickException(error.message) from error
        with tqdm(total=len(rows), desc="rows", file=sys.stderr) as progress:
            report = import_rows(kindred.uow, partner, rows, progress)
    click.echo(
        f"loaded {report.loaded}, already imported {report.already_imported}, "
        f"skipped {len(report.skipped)} of {len(rows)} rows"
    )
    for reason, count in report.skipped_by_reason.most_common():
        click.echo(f"  skipped {count}: {reason}")
    for line_number, reason in report.skipped[:show_skipped]:
        click.echo(f"  line {line_number}: {reason}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API and pages under gunicorn."""
    import tempfile

    from service.observability import logs, metrics

    os.environ.setdefault(logs.FORMAT_VARIABLE, "json")  # read by gunicorn and its workers
    if not os.environ.get(metrics.MULTIPROC_DIR):
        # One /metrics for all gunicorn workers: they count into files in one empty folder.
        os.environ[metrics.MULTIPROC_DIR] = tempfile.mkdtemp(prefix="kindred-metrics-")
    os.execvp(
        sys.executable, [sys.executable, "-m", "gunicorn", *gunicorn_args(host, port, workers)]
    )


def gunicorn_args(host: str, port: int, workers: int) -> list[str]:
    return [
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        # Sign-in links and calendar feeds carry their token in the path: not in the log.
        "--logger-class",
        "service.adapters.access_log.RedactingLogger",
        # gunicorn's default access line, and the request id kindred answered with.
        "--access-logformat",
        '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s',
        "--graceful-timeout",
        "20",
        "service.app:create_app()",
    ]


@main.command()
@click.option("--queue", "queue_names", multiple=True, help="Queues to serve (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queue_names: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (warm shutdown on SIGTERM)."""
    from workers import context
    from workers.queues import ALL_QUEUES
    from workers.worker import run

    metrics_port = os.environ.get("KINDRED_METRICS_PORT")
    if metrics_port:
        from service.observability import metrics

        metrics.serve_on_port(int(metrics_port), os.environ.get("KINDRED_METRICS_ADDR", "0.0.0.0"))
    with wired() as kindred:
        context.use(kindred)
        # Delayed retries are moved onto the queues by `kindred scheduler`, not by workers.
        run(kindred.redis, queue_names or ALL_QUEUES, burst=burst)


@main.group()
def jobs() -> None:
    """Jobs that failed for good (dead letters): list them, re-queue them."""


@jobs.command("failed")
def jobs_failed() -> None:
    """List dead jobs: id, queue, function, when, and the error's last line."""
    from workers.dead_letters import failed_jobs

    with wired() as kindred:
        dead = failed_jobs(kindred.redis)
    for job in dead:
        click.echo(f"{job.job_id}\t{job.queue}\t{job.function}\t{job.failed_at}\t{job.error}")
    click.echo(f"{len(dead)} failed job(s)", err=True)


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Re-queue every dead job.")
def jobs_retry(job_ids: tuple[str, ...], everything: bool) -> None:
    """Re-queue dead jobs by id (or --all)."""
    from workers.dead_letters import failed_jobs, retry

    if not job_ids and not everything:
        raise click.UsageError("name job ids, or use --all")
    with wired() as kindred:
        wanted = [job.job_id for job in failed_jobs(kindred.redis)] if everything else job_ids
        requeued = retry(kindred.redis, list(wanted), kindred)
    missing = sorted(set(wanted) - set(requeued))
    click.echo(f"re-queued {len(requeued)} job(s)")
    if missing:
        raise click.ClickException(f"not dead letters: {', '.join(missing)}")


@main.command()
@click.argument("kind", type=click.Choice(["worker", "scheduler"]))
def alive(kind: str) -> None:
    """Exit 0 if a worker (or the scheduler) on this host renewed its heartbeat in Redis lately,
    else 1: the health check of a worker or scheduler container."""
    import socket

    from workers.health import alive_on_host

    with wired() as kindred:
        found = alive_on_host(kindred.redis, kind, socket.gethostname())
    click.echo(f"{kind} on {socket.gethostname()}: {'alive' if found else 'not alive'}")
    sys.exit(0 if found else 1)


@main.command()
def scheduler() -> None:
    """Run the periodic scheduler (registry cleanup, and later weekly re-matching)."""
    from workers.scheduler import run

    with wired() as kindred:
        run(kindred.redis)


@main.command()
@click.option(
    "--port", default=lambda: int(os.environ.get("KINDRED_PORT", 5000)), show_default="5000"
)
@click.option("--no-seed", is_flag=True, help="Do not add demo data to an empty database.")
def run(port: int, no_seed: bool) -> None:
    """Everything on one machine: migrations, demo data, API, worker and scheduler."""
    from service.supervisor import run_all

    sys.exit(run_all(port=port, seed=not no_seed))


@main.command("demo-credentials")
def demo_credentials() -> None:
    """Print the demo logins and tokens written by seed-demo."""
    from service.demo.seed import credentials_path

    with wired() as kindred:
        path = credentials_path(kindred)
    if not path.exists():
        raise click.ClickException("no demo data yet: run `kindred seed-demo`")
    click.echo(json.dumps(json.loads(path.read_text()), indent=2))


@main.group()
def report() -> None:
    """Reports for coordinators, written to files."""


@report.command("outcomes")
@click.option(
    "--months",
    type=click.IntRange(1, 24),
    default=6,
    show_default=True,
    help="Calendar months (UTC), this one included.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/reports"),
    show_default=True,
)
def report_outcomes(months: int, out_dir: Path) -> None:
    """Outcome figures (second visits, introductions followed up, attendance, check-in trend by
    cohort): writes outcomes.json and outcomes.png; groups under 10 are withheld."""
    from service.services.outcome_files import summary, write_files
    from service.services.outcomes import OPERATOR, outcomes

    click.echo(f"computing the outcome figures for {months} month(s)...", err=True)
    with wired() as kindred:
        figures = outcomes(kindred.uow(), OPERATOR, months)
    json_path, png_path = write_files(figures, out_dir)
    for line in summary(figures):
        click.echo(line)
    click.echo(f"wrote {json_path} and {png_path}")


@main.command("evaluate")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding the data sets.  [default: ../shared/data beside the repository]",
)
@click.option(
    "--dataset",
    type=click.Choice(["meetup_portland", "meetup_montana", "nyc_service_volunteer", "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--split", type=click.Choice(["validation", "test"]), default="test", show_default=True
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/evaluation"),
    show_default=True,
)
@click.option("--seed", default=0, show_default=True, help="Seed of the split and of random.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A GroupMatcher hyperparameter (VALUE read as JSON when it parses), repeatable.",
)
@click.option(
    "--peer-param",
    "peer_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A PeerMatcher hyperparameter, like --param.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate_command(data_dir, dataset, split, out_dir, seed, params, peer_params, quiet) -> None:
    """Measure the matcher against baselines on real data; writes NAME.json and NAME.png."""
    from service.matching.datasets import DATASET_NAMES, load_dataset
    from service.matching.evaluation import evaluate, params_from, summary_table, write_report

    try:
        matcher_params = params_from(params)
        peer_matcher_params = params_from(peer_params)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--param") from error
    tables = {}
    for name in DATASET_NAMES if dataset == "all" else (dataset,):
        try:
            data = load_dataset(name, data_dir)
        except FileNotFoundError as error:
            raise click.ClickException(f"{name}: {error}") from error
        report = evaluate(
            data,
            split,
            seed,
            matcher_params=matcher_params,
            peer_params=peer_matcher_params or None,
            progress=not quiet,
        )
        json_path, png_path = write_report(report, out_dir)
        click.echo(f"{name}: wrote {json_path} and {png_path}", err=True)
        tables[name] = summary_table(report)
    click.echo(json.dumps(tables if dataset == "all" else tables[dataset], indent=2))


if __name__ == "__main__":
    main()
