"""Email out: over SMTP, or into a local Maildir for the embedded default (no server needed).

Both take a ready `EmailMessage`. Its Message-ID is made from the notification id, so a message
sent twice (a retry after the server accepted it but before kindred recorded that) is one
message to any mail client that deduplicates.
"""

from __future__ import annotations

import mailbox
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from service.config import Settings

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class MaildirSink:
    """Delivers into var/mail/ (Maildir: one file per message under new/)."""

    path: Path

    def send(self, message: EmailMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)  # Maildir creates only its own
        mailbox.Maildir(self.path, create=True).add(message)


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSender:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                "KINDRED_SMTP_URL must be maildir, smtp://host:port or smtp+starttls://"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or (587 if parts.scheme == "smtp+starttls" else 25),
            starttls=parts.scheme == "smtp+starttls",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as server:
            if self.starttls:
                server.starttls()
            if self.username:
                server.login(self.username, self.password or "")
            server.send_message(message)


def sender_for(settings: Settings):
    if settings.smtp_url == "maildir":
        return MaildirSink(settings.var_dir / "mail")
    return SmtpSender.from_url(settings.smtp_url)


def compose(mail_from: str, to: str, message_key: str, subject: str, text: str) -> EmailMessage:
    """`message_key` names what the message is ("notification-5", "sign-in-12"): the same key
    gives the same Message-ID."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = mail_from, to, subject
    # Not email.utils.make_msgid: it adds the time and a random number, so a retried send would
    # carry a new id and show twice.
    message["Message-ID"] = f"<{message_key}@kindred>"
    message.set_content(text)
    return message
