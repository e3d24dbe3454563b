"""Browser tests: kindred's real pages in Debian's Chromium, driven by Playwright, checked by axe.

Needs three things, none of them downloaded by a tool behind our back:

- Chromium from Debian (``apt-get install -y chromium``: ``/usr/bin/chromium``). Playwright never
  downloads a browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1; never run ``playwright install``).
- the ``playwright`` Python package (a dev dependency);
- axe-core from npm, pinned in tests/browser/package-lock.json (``make test`` runs
  ``npm ci --prefix tests/browser``).

Without one of them the whole tier is skipped, with the reason; KINDRED_REQUIRE_BROWSER=1 (CI)
turns the skip into a failure.

Fixtures
--------
``live_server``
    The real app (``create_app``) served by werkzeug in a thread on ``http://127.0.0.1:<free
    port>``, fresh for each test: a migrated SQLite database in the test's tmp dir, the session's
    real Redis (flushed before and after), mail into a Maildir, ``public_url`` = the server's URL
    (so emailed links point at it) and a generous sign-in rate limit. Attributes: ``url``,
    ``kindred``, ``settings``, ``app``, ``mail_dir``; methods ``run_jobs()`` (every queued RQ job,
    by the real worker in burst mode, in this process) and ``links_in_mail(to=None)``.
``kindred`` / ``settings`` / ``database_url``
    Overridden here to be the live server's, so seed helpers and assertions see exactly what the
    browser sees (the root fixtures would build a second, unrelated database).
``run_jobs``
    ``live_server.run_jobs``: call it after a page action that queues work (emails, matching).
``browser``
    One headless Chromium for the session (Playwright's sync API).
``new_page``
    Factory: ``new_page(viewport=DESKTOP or MOBILE, **context_options)`` opens a page in a fresh
    browser context (its own cookies) whose ``base_url`` is the live server, so
    ``page.goto("/dashboard")`` works. Console errors, uncaught page errors and CSP violations are
    recorded (``console_errors(page)``). Everything is closed after the test; a failing test
    leaves a screenshot ``FAILED-<test>.png``. Use it for a second user in the same test.
``page`` / ``mobile_page``
    ``new_page()`` at 1280x900, and ``new_page(MOBILE)`` at 390x844 (touch, mobile viewport).
``coordinator_account`` / ``organization`` / ``member_account``
    Seeded like the demo: a coordinator (COORDINATOR_EMAIL / COORDINATOR_PASSWORD), the
    organization "Garden Friends" with a key (``(organization, key_secret)``), and a member
    (MEMBER_EMAIL; ``SignedUp``: ``.member``, ``.token``).
``coordinator_page`` / ``partner_page`` / ``member_page``
    A desktop page already signed in through the real forms (the member through an emailed link),
    left on that role's home page.

Helpers (``from tests.browser.conftest import ...``)
----------------------------------------------------
``screenshot(page, name)``
    Full-page PNG in var/test-artifacts/screenshots/<name>.png. Take one of every page a test
    visits.
``accessibility_scan(page)`` / ``assert_accessible(page)``
    Inject axe-core (``page.evaluate``: the pages' CSP forbids added script tags), run it, return
    the violations / fail on any "serious" or "critical" one (rule, impact, elements in the
    message); milder ones are printed.
``console_errors(page)`` / ``assert_no_console_errors(page, ignore=())``
    What the page logged as errors (CSP violations included), optionally ignoring regexes.
``seed_coordinator``, ``seed_organization``, ``seed_member``
    The service calls behind the fixtures above, for more accounts.
``sign_in_coordinator``, ``sign_in_partner``, ``sign_in_member``
    Sign a page in through the forms.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.app import create_app
from service.bootstrap import Kindred, bootstrap
from service.config import Settings
from service.domain.credentials import Principal, Role
from service.services.coordinators import CoordinatorAccount, create_coordinator
from service.services.members import SignedUp, sign_up
from service.services.organizations import create_organization
from tests.integration.api.conftest import run_worker
from workers import context

ROOT = Path(__file__).resolve().parents[2]
AXE_SOURCE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = ("serious", "critical")

COORDINATOR_EMAIL, COORDINATOR_PASSWORD = "coord@example.org", "a long password"
MEMBER_EMAIL = "ann@example.org"


# --- What the tier needs -------------------------------------------------------------------------


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _missing() -> str | None:
    """Why the browser tier cannot run here, or None."""
    if chromium_path() is None:
        return "Chromium not installed (apt-get install -y chromium: /usr/bin/chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not AXE_SOURCE.exists():
        return (
            f"axe-core missing ({AXE_SOURCE.relative_to(ROOT)}): "
            "run `npm ci --prefix tests/browser` (make test does)"
        )
    return None


@pytest.fixture(scope="session", autouse=True)
def browser_tier_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("KINDRED_REQUIRE_BROWSER") == "1":
        pytest.fail(f"KINDRED_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests: {reason}")


# --- The live server -----------------------------------------------------------------------------


class _LateApp:
    """The WSGI app the server calls: set once the server's port (the public URL) is known."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class LiveServer:
    url: str
    kindred: Kindred
    app: object

    @property
    def settings(self) -> Settings:
        return self.kindred.settings

    @property
    def mail_dir(self) -> Path:
        return self.settings.var_dir / "mail"

    def run_jobs(self) -> None:
        """Every queued job, by the real RQ worker in burst mode, in this process."""
        context.use(self.kindred)
        run_worker(self.kindred)  # restores the signal handlers RQ installs

    def links_in_mail(self, to: str | None = None) -> list[str]:
        """Links to this server in the mail sent so far (to one address), oldest first."""
        if not self.mail_dir.exists():
            return []
        box = mailbox.Maildir(self.mail_dir, create=False)
        messages = sorted(box, key=lambda message: message.get_date())
        found = []
        for message in messages:
            if to is not None and message["To"] != to:
                continue
            text = message.get_payload(decode=True).decode()
            found += re.findall(re.escape(self.url) + r"/\S+", text)
        return found


@pytest.fixture
def live_server(migrated_sqlite_template, redis_url, tmp_path) -> LiveServer:
    database = tmp_path / "kindred.db"
    shutil.copy(migrated_sqlite_template, database)
    late_app = _LateApp()
    server = make_server("127.0.0.1", 0, late_app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        redis_url=redis_url,
        secret_key="browser-test-secret-key",
        var_dir=tmp_path / "var",
        public_url=url,
        login_rate_limit="1000 per minute",
    )
    kindred = bootstrap(settings)
    kindred.redis.flushdb()
    late_app.app = create_app(kindred=kindred)
    context.use(kindred)  # jobs run by run_jobs() use this service
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server"
    )
    thread.start()
    try:
        yield LiveServer(url=url, kindred=kindred, app=late_app.app)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        kindred.redis.flushdb()
        kindred.close()


@pytest.fixture
def kindred(live_server) -> Kindred:
    return live_server.kindred


@pytest.fixture
def settings(live_server) -> Settings:
    return live_server.settings


@pytest.fixture
def database_url(live_server) -> str:
    return live_server.settings.database_url


@pytest.fixture
def run_jobs(live_server):
    return live_server.run_jobs


# --- Chromium ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(browser_tier_ready):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


_console: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _record_errors(page) -> None:
    errors: list[str] = []
    _console[page] = errors

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))


def console_errors(page) -> list[str]:
    """Errors the page logged so far: console.error, failed loads, CSP violations, exceptions."""
    return list(_console.get(page, []))


def assert_no_console_errors(page, ignore: tuple[str, ...] = ()) -> None:
    errors = [
        error
        for error in console_errors(page)
        if not any(re.search(pattern, error) for pattern in ignore)
    ]
    assert not errors, f"console errors on {page.url}:\n" + "\n".join(errors)


def csp_violations(page) -> list[str]:
    return [error for error in console_errors(page) if "Content Security Policy" in error]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture
def new_page(request, browser, live_server):
    """new_page(viewport=DESKTOP, **context_options): a page in a fresh context on the server."""
    contexts = []
    pages = []

    def open_page(viewport: dict = DESKTOP, **options):
        if viewport == MOBILE:
            options = {"is_mobile": True, "has_touch": True, **options}
        browser_context = browser.new_context(
            base_url=live_server.url, viewport=viewport, **options
        )
        contexts.append(browser_context)
        page = browser_context.new_page()
        _record_errors(page)
        pages.append(page)
        return page

    yield open_page
    if getattr(request.node, "browser_test_failed", False):
        for number, page in enumerate(pages):
            if not page.is_closed():
                suffix = f"-{number}" if number else ""
                screenshot(page, f"FAILED-{request.node.name}{suffix}")
    for browser_context in contexts:
        browser_context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def mobile_page(new_page):
    return new_page(MOBILE)


# --- Screenshots and accessibility ---------------------------------------------------------------


def screenshot(page, name: str) -> Path:
    """A full-page PNG of what the page shows now: var/test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


_axe_source: str | None = None


def accessibility_scan(page) -> list[dict]:
    """axe-core's violations for the page as it is now (all of axe's default rules)."""
    global _axe_source
    if _axe_source is None:
        _axe_source = AXE_SOURCE.read_text()
    # evaluate() is not subject to the page's CSP; an added <script> tag would be refused.
    page.evaluate(_axe_source)
    return page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {json.dumps(node['target'])}  {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page) -> list[dict]:
    """No axe violation with impact serious or critical; milder ones are printed and returned."""
    violations = accessibility_scan(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    milder = [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
    if milder:
        print(f"axe on {page.url}, not blocking:\n{describe_violations(milder)}")
    assert not blocking, f"axe on {page.url}:\n{describe_violations(blocking)}"
    return milder


# --- Seed data like the demo's, and signing in ---------------------------------------------------


def seed_coordinator(
    kindred: Kindred,
    email: str = COORDINATOR_EMAIL,
    password: str = COORDINATOR_PASSWORD,
    display_name: str = "Coord",
) -> CoordinatorAccount:
    return create_coordinator(kindred.uow(), email, display_name, password)


def seed_organization(
    kindred: Kindred,
    coordinator: CoordinatorAccount,
    name: str = "Garden Friends",
    verified: bool = False,
    **fields,
):
    """(organization, key secret): a partner organization and its first API key."""
    caller = Principal(Role.COORDINATOR, coordinator.coordinator.id)
    data = {
        "name": name,
        "contact_email": f"team@{re.sub(r'[^a-z0-9]', '', name.lower())}.example",
        "verified": verified,
        **fields,
    }
    organization, new_key = create_organization(kindred.uow(), caller, data)
    return organization, new_key.secret


def seed_member(kindred: Kindred, email: str = MEMBER_EMAIL, **fields) -> SignedUp:
    data = {
        "display_name": "Ann",
        "email": email,
        "interests": ["gardening"],
        "causes": ["environment"],
        "lat": 51.45,
        "lon": -2.59,
        **fields,
    }
    return sign_up(kindred.uow(), data)


@pytest.fixture
def coordinator_account(kindred) -> CoordinatorAccount:
    return seed_coordinator(kindred)


@pytest.fixture
def organization(kindred, coordinator_account):
    """(organization, key secret) for "Garden Friends"."""
    return seed_organization(kindred, coordinator_account)


@pytest.fixture
def member_account(kindred) -> SignedUp:
    return seed_member(kindred)


def sign_in_coordinator(
    page, email: str = COORDINATOR_EMAIL, password: str = COORDINATOR_PASSWORD
) -> None:
    page.goto("/dashboard/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def sign_in_partner(page, key_secret: str) -> None:
    page.goto("/partner/sign-in")
    page.fill("#api_key", key_secret)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def sign_in_member(page, live_server: LiveServer, email: str = MEMBER_EMAIL) -> None:
    """The whole email-link flow: ask for a link, run the jobs, open the link, confirm."""
    page.goto("/me/sign-in")
    page.fill("#email", email)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    live_server.run_jobs()
    links = [link for link in live_server.links_in_mail(to=email) if "/me/sign-in/" in link]
    assert links, f"no sign-in link was emailed to {email}"
    page.goto(links[-1])
    with page.expect_navigation():
        page.click("main button[type=submit]")


@pytest.fixture
def coordinator_page(page, coordinator_account):
    sign_in_coordinator(page)
    assert page.url.endswith("/dashboard"), page.url
    return page


@pytest.fixture
def partner_page(page, organization):
    sign_in_partner(page, organization[1])
    assert page.url.endswith("/partner"), page.url
    return page


@pytest.fixture
def member_page(page, live_server, member_account):
    sign_in_member(page, live_server, member_account.member.email)
    assert page.url.endswith("/me"), page.url
    return page
