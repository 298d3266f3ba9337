"""Outgoing email over SMTP (a real server; in development the local mail catcher)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from saas_app.services.core.errors import ServiceUnavailable
from saas_app.settings import get_settings

log = logging.getLogger(__name__)


def send_email(*, to: str, subject: str, text: str, html: str) -> None:
    """Send one multipart (text and HTML) message.

    Raises:
        ServiceUnavailable: When the SMTP server cannot be reached or refuses the message.
    """
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.MAGIC_LINK_FROM
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="narrated.studio")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    host = settings.SMTP_HOST or "127.0.0.1"
    try:
        with smtplib.SMTP(host, settings.SMTP_PORT, timeout=10) as smtp:
            if settings.SMTP_STARTTLS:
                smtp.starttls()
            if settings.SMTP_USER:
                smtp.login(settings.SMTP_USER, settings.SMTP_PASSWORD)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("SMTP send to %s:%s failed: %s", host, settings.SMTP_PORT, exc)
        raise ServiceUnavailable("We couldn't send the email right now.",
                                 retry_after=60) from exc
