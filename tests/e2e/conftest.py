"""Browser tests against a real app process (UI + API on one port), real Redis, SMTP and a local Stripe.

The app runs as a separate process with an explicit environment of its own: Redis DB 14
(`TEST_E2E_REDIS_DB`),
its own SQLite file, usage log and mail catcher, and the session's local Stripe server
(tests/stripe_server.py), so the unit and integration fixtures (which use `TEST_REDIS_DB` and
flush it around every test) never touch it. Free tenants get QUOTA_IMAGES_COUNT=6 images a
month (Pro: 30), small enough for the quota tests to reach with two short renders.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from e2e_helpers import UI_TIMEOUT_MS, LiveApp, screenshot
from e2e_helpers import sign_in as _sign_in
from page_objects import Mailbox
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    sync_playwright,
)
from stripe_server import (
    WEBHOOK_PATH,
    app_env,
    register_webhook_endpoint,
    reset_stripe,
    stripe_server,  # noqa: F401  (the session fixture, for live_app and the tests)
)

from saas_app.dev import processes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.settings import PROJECT_ROOT, get_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
E2E_REDIS_DB = int(os.environ.get("TEST_E2E_REDIS_DB", "14"))
STARTUP_TIMEOUT = 300
E2E_QUOTA_IMAGES = 6
ARTIFACT_DIR = PROJECT_ROOT / "var" / "test-artifacts"


def _e2e_redis_url() -> str:
    """The Redis server the tests use (tests/conftest.py may have started one), database `E2E_REDIS_DB`."""
    parts = urlsplit(get_settings().REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log at {path}: {exc})"


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory, stripe_server: str) -> Iterator[LiveApp]:  # noqa: F811
    """Migrate a fresh SQLite file, start a mail catcher, Reflex (prod, one port) and the worker.

    The app talks to the session's local Stripe server; billing tests ask for the `local_stripe` fixture
    to reset it and register the app's webhook endpoint.
    """
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    mail = MailCatcher("127.0.0.1", _free_port(), mail_dir=tmp / "mail", echo=False)
    mail.start()
    redis_url = _e2e_redis_url()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    app = LiveApp(base_url=f"http://127.0.0.1:{port}", port=port, mail=mail, db_path=tmp / "e2e.db",
                  redis=client, tmp_dir=tmp, stripe_url=stripe_server)
    env = processes.project_env({
        "APP_ENV": "test",
        "PORT": str(port),
        "APP_BASE_URL": app.base_url,
        "DATABASE_URL": f"sqlite:///{app.db_path}",
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "STORAGE_DIR": str(tmp / "storage"),
        "MAIL_DIR": str(tmp / "mail"),
        "JWT_SECRET": secrets.token_hex(24),
        "USAGE_LOG_DIR": str(tmp / "usage"),
        "EXPORT_DIR": str(tmp / "exports"),
        "BACKUP_DIR": str(tmp / "backups"),
        "QUOTA_IMAGES_COUNT": str(E2E_QUOTA_IMAGES),
        # Each test starts on a flushed Redis, which the app treats as a data loss and restores the
        # sign-in email windows from the links in the database: every test signs in from 127.0.0.1.
        "RATE_IP_PER_HOUR": "10000",
        **app_env(stripe_server),
    })
    reflex_log = tmp / "reflex.log"
    try:
        processes.migrate(env)
        reflex = processes.start_reflex(env, port, log_path=reflex_log)
        app.procs.append(reflex)
        processes.wait_http(app.url("/api/health"), timeout=STARTUP_TIMEOUT, watch=[reflex])
        app.procs.append(processes.start_worker(env, log_path=tmp / "worker.log"))
    except BaseException as exc:
        processes.stop_all(app.procs)
        mail.stop()
        tail = _tail(reflex_log)
        print(f"--- tail of {reflex_log} ---\n{tail}")
        raise RuntimeError(f"the e2e app did not start: {exc}\n--- tail of {reflex_log} ---\n{tail}") from exc
    try:
        yield app
    finally:
        processes.stop_all(app.procs)
        mail.stop()
        client.flushdb()
        client.close()


@pytest.fixture(autouse=True)
def _fresh_limits_and_mailbox(live_app: LiveApp) -> None:
    """Rate-limit counters and caught mail must not leak from one test into the next."""
    live_app.redis.flushdb()
    live_app.mail.clear()


@pytest.fixture
def local_stripe(live_app: LiveApp) -> str:
    """The local Stripe, emptied, with the app's webhook endpoint registered; yields its base URL."""
    reset_stripe(live_app.stripe_url)
    register_webhook_endpoint(live_app.stripe_url, live_app.url(WEBHOOK_PATH))
    return live_app.stripe_url


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    """The Playwright driver for the whole session."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's headless chromium (Playwright cannot download its own browsers here)."""
    headed = os.environ.get("E2E_HEADED") == "1"  # docs/testing.md: watch a flow
    slow_mo = float(os.environ.get("E2E_SLOW_MO_MS", "0"))
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=not headed,
                                                   slow_mo=slow_mo, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


def _new_context(browser: Browser, live_app: LiveApp) -> BrowserContext:
    context = browser.new_context(base_url=live_app.base_url, viewport={"width": 1100, "height": 760})
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's outcome on the test item (the `page` fixture reads it)."""
    report = yield
    setattr(item, f"_e2e_{report.when}_failed", report.failed)
    return report


def _artifact_dir(item: pytest.Item) -> Path:
    """var/test-artifacts/<test name>/: where a failed browser test leaves its screenshots and trace."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.name)
    folder = ARTIFACT_DIR / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, live_app: LiveApp) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies or storage shared with other tests).

    A Playwright trace is recorded and kept only when the test fails (`E2E_TRACE=always` keeps every one):
    open it with `.venv/bin/playwright show-trace var/test-artifacts/<test>/trace.zip`.
    """
    context = _new_context(browser, live_app)
    context.tracing.start(screenshots=True, snapshots=True, sources=False)
    new = context.new_page()
    yield new
    failed = getattr(request.node, "_e2e_call_failed", False) or getattr(request.node, "_e2e_setup_failed", False)
    if failed or os.environ.get("E2E_TRACE") == "always":
        folder = _artifact_dir(request.node)
        if failed:  # every tab: Checkout and the portal open new ones
            for number, tab in enumerate(context.pages, start=1):
                tab.screenshot(path=str(folder / f"screenshot-tab{number}.png"), full_page=True)
                screenshot(tab, f"FAILED-{request.node.name}" + (f"-tab{number}" if number > 1 else ""))
        context.tracing.stop(path=str(folder / "trace.zip"))
    else:
        context.tracing.stop()
    context.close()


@pytest.fixture
def new_page(browser: Browser, live_app: LiveApp) -> Iterator[Callable[[], Page]]:
    """Open a page in another independent context (another device of the same user)."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = _new_context(browser, live_app)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def email() -> str:
    """A unique address per test, so per-address limits and accounts never collide."""
    return f"e2e-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def sign_in(live_app: LiveApp) -> Callable[..., EmailMessage]:
    """`sign_in(page, email, next=None)`: request, read the email, open, confirm, land signed in."""

    def run(page: Page, address: str, next: str | None = None) -> EmailMessage:
        return _sign_in(page, live_app, address, next)

    return run


@pytest.fixture
def mailbox(live_app: LiveApp) -> Mailbox:
    """The mail the app sent during this test."""
    return Mailbox(live_app)


@pytest.fixture
def signed_in_page(page: Page, live_app: LiveApp, email: str) -> Page:
    """`page`, signed in as `email` (a new workspace) and on /create."""
    _sign_in(page, live_app, email, None)
    return page


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    """A folder for the files a test downloads."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder
