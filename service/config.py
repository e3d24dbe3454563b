"""Settings read from the environment, with embedded defaults for a laptop.

Everything has a default so that `make run` works on a fresh machine: SQLite and an embedded Redis
in ``./var/``, and a secret key generated once into ``./var/secret_key``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from service.domain import regions as region_config

EMBEDDED_REDIS = "embedded"


def _var_dir() -> Path:
    return Path(os.environ.get("KINDRED_VAR_DIR", "var")).resolve()


def _secret_key(var_dir: Path) -> str:
    """The SECRET_KEY from the environment, else one generated once and kept in var/."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # Written with owner-only permissions: anyone who reads it can forge sessions.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _support_url(raw: str | None) -> str | None:
    """KINDRED_SUPPORT_URL: an http(s) address shown to members, or nothing. Anything else is a
    mistake that would put a broken (or a javascript:) link in front of someone struggling, so
    it stops the start-up."""
    if not raw:
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"KINDRED_SUPPORT_URL must be an http:// or https:// address, not {raw!r}")
    return raw.strip()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    secret_key: str
    var_dir: Path
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    # "maildir": email lands in var/mail/ (a Maildir any mail client or `ls` can read);
    # smtp://host:port or smtp+starttls://user:password@host:587 for a real server.
    smtp_url: str = "maildir"
    mail_from: str = "kindred <noreply@kindred.invalid>"
    # Tests and local development only: let webhooks target http:// and private addresses.
    webhook_allow_private: bool = False
    # Where people reach kindred: links in emails (sign-in, calendar feed) start with it.
    public_url: str = "http://127.0.0.1:5000"
    # Session cookies are Secure (and __Host- prefixed). Browsers keep such cookies on
    # http://127.0.0.1 and localhost too; turn off only to sign in over plain HTTP elsewhere.
    secure_cookies: bool = True
    # Redirect http:// to https:// (set where no proxy in front does it).
    force_https: bool = False
    # Reverse proxies in front of kindred whose X-Forwarded-For/-Proto/-Host are trusted: the
    # client's address (rate limits) and https (HSTS, redirects) come from them. 0: none.
    trusted_proxies: int = 0
    # The dashboard lists members with no activity for this many weeks.
    quiet_after_weeks: int = 4
    # Abuse limits, in Flask-Limiter's notation, counted in Redis for all processes.
    # Sign-in attempts per address (and per coordinator account).
    login_rate_limit: str = "10 per minute;50 per hour"
    # Sign-ups (API and the join page) per address: a community centre's shared Wi-Fi is one.
    signup_rate_limit: str = "20 per hour;100 per day"
    # Every API call per credential (a partner's API key, a member, a coordinator), or per
    # address without one.
    api_rate_limit: str = "300 per minute;10000 per hour"
    # Retention, in days: suggestions never answered, notifications (inbox and email records),
    # and outbox events already handled. Answers stay while the account does.
    keep_suggestions_days: int = 90
    keep_notifications_days: int = 180
    keep_handled_events_days: int = 30
    # KINDRED_REGIONS: named bounding boxes; matching events go to `matching-<region>` queues
    # (service/domain/regions.py, docs/scaling.md). None: one `matching` queue.
    regions: region_config.Regions | None = None
    # KINDRED_MODEL_DIR: where workers share fitted matchers (service/adapters/model_store.py).
    # Workers on several machines share fits only if they mount the same folder. Unset:
    # var/models.
    model_dir: Path | None = None
    # KINDRED_SUPPORT_URL: a local directory of support services, linked from the connection
    # check-in's support note. None: the note names a doctor, findahelpline.com and the local
    # emergency number only.
    support_url: str | None = None
    # Always on every page: kindred is not a clinical service.
    help_line: str = (
        "kindred is not a crisis or clinical service. If you are struggling or feel unsafe, "
        "contact your doctor, call your local emergency number, or find a free, confidential "
        "helpline at findahelpline.com."
    )

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = _var_dir()
        return cls(
            database_url=os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'kindred.db'}",
            redis_url=os.environ.get("REDIS_URL") or EMBEDDED_REDIS,
            secret_key=_secret_key(var_dir),
            var_dir=var_dir,
            max_body_bytes=_int("KINDRED_MAX_BODY_BYTES", 64 * 1024),
            log_level=os.environ.get("KINDRED_LOG_LEVEL", "INFO"),
            smtp_url=os.environ.get("KINDRED_SMTP_URL") or "maildir",
            mail_from=os.environ.get("KINDRED_MAIL_FROM") or "kindred <noreply@kindred.invalid>",
            webhook_allow_private=os.environ.get("KINDRED_WEBHOOK_ALLOW_PRIVATE") == "1",
            public_url=(os.environ.get("KINDRED_PUBLIC_URL") or cls.public_url).rstrip("/"),
            secure_cookies=os.environ.get("KINDRED_SECURE_COOKIES", "1") != "0",
            force_https=os.environ.get("KINDRED_FORCE_HTTPS") == "1",
            quiet_after_weeks=_int("KINDRED_QUIET_AFTER_WEEKS", 4),
            trusted_proxies=_int("KINDRED_TRUSTED_PROXIES", 0),
            login_rate_limit=os.environ.get("KINDRED_LOGIN_RATE_LIMIT") or cls.login_rate_limit,
            signup_rate_limit=os.environ.get("KINDRED_SIGNUP_RATE_LIMIT") or cls.signup_rate_limit,
            api_rate_limit=os.environ.get("KINDRED_API_RATE_LIMIT") or cls.api_rate_limit,
            keep_suggestions_days=_int("KINDRED_KEEP_SUGGESTIONS_DAYS", 90),
            keep_notifications_days=_int("KINDRED_KEEP_NOTIFICATIONS_DAYS", 180),
            keep_handled_events_days=_int("KINDRED_KEEP_HANDLED_EVENTS_DAYS", 30),
            regions=region_config.parse(os.environ.get("KINDRED_REGIONS")),
            model_dir=Path(os.environ["KINDRED_MODEL_DIR"])
            if os.environ.get("KINDRED_MODEL_DIR")
            else None,
            support_url=_support_url(os.environ.get("KINDRED_SUPPORT_URL")),
        )

    @property
    def models_folder(self) -> Path:
        return self.model_dir or self.var_dir / "models"

    @property
    def retention(self):
        from service.services.privacy import Retention

        return Retention(
            suggestions=timedelta(days=self.keep_suggestions_days),
            notifications=timedelta(days=self.keep_notifications_days),
            handled_events=timedelta(days=self.keep_handled_events_days),
        )

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url == EMBEDDED_REDIS
