"""A development and test SMTP server on loopback that keeps every message it receives.

Run it alone with ``python -m saas_app.dev.mailcatcher --port 1025 --dir var/mail``;
`make run` starts it when SMTP_HOST is unset, and tests embed `MailCatcher` directly.
"""

from __future__ import annotations

import argparse
import email
import re
import signal
import threading
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller

LINK_RE = re.compile(r"https?://\S+/auth/verify\?token=\S+")
CODE_RE = re.compile(r"\bcode\s+(\d{6})\b", re.IGNORECASE)


def _recipients(envelope_rcpts: list[str], message: EmailMessage) -> frozenset[str]:
    headers = message.get_all("To", []) + message.get_all("Cc", [])
    addresses = [addr for _, addr in getaddresses([str(h) for h in headers])]
    return frozenset(a.strip().lower() for a in [*envelope_rcpts, *addresses] if a.strip())


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, KeyError):
        return ""


def summarize(message: EmailMessage) -> str:
    """One line for the terminal: recipient, sign-in code and sign-in link when present.

    Args:
        message: A parsed message.

    Returns:
        A line such as ``[mail] to a@b.c | code 123456 | http://.../auth/verify?token=...``.
    """
    parts = [f"[mail] to {message.get('To', '?')}"]
    code = CODE_RE.search(str(message.get("Subject", "")))
    if code:
        parts.append(f"code {code.group(1)}")
    link = LINK_RE.search(_text_of(message))
    if link:
        parts.append(link.group(0).rstrip(".,;)>\"'"))
    else:
        parts.append(f"subject: {message.get('Subject', '')}")
    return " | ".join(parts)


class MailCatcher:
    """An SMTP server (aiosmtpd) on its own thread that records messages in arrival order."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1025,
        mail_dir: Path | None = None,
        echo: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.mail_dir = Path(mail_dir) if mail_dir is not None else None
        self.echo = echo
        self._records: list[tuple[frozenset[str], EmailMessage]] = []
        self._received = 0
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start listening; returns once the server accepts connections."""
        if self._controller is not None:
            return
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening (messages already received stay available)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd hook: parse, store, save and echo one message."""
        raw: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=default_policy)
        with self._cond:
            self._received += 1
            number = self._received
            self._records.append((_recipients(list(envelope.rcpt_tos), message), message))
            self._cond.notify_all()
        if self.mail_dir is not None:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime())
            (self.mail_dir / f"{stamp}-{number}.eml").write_bytes(raw)
        if self.echo:
            print(summarize(message), flush=True)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        """Every message received since start or the last `clear()`, oldest first."""
        with self._cond:
            return [message for _, message in self._records]

    def clear(self) -> None:
        """Forget the messages received so far (files in mail_dir are kept)."""
        with self._cond:
            self._records.clear()

    def wait_for(self, to: str, timeout: float = 10.0, count: int = 1) -> EmailMessage:
        """Wait until at least `count` messages to `to` arrived and return the newest.

        Args:
            to: Recipient address (case-insensitive; envelope, To or Cc).
            timeout: Seconds to wait.
            count: How many messages to that recipient must exist.

        Returns:
            The newest message to that recipient.

        Raises:
            TimeoutError: When fewer than `count` messages arrived in time.
        """
        address = to.strip().lower()

        def matching() -> list[EmailMessage]:
            return [message for rcpts, message in self._records if address in rcpts]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                found = len(matching())
                raise TimeoutError(f"{found} of {count} message(s) to {to} arrived within {timeout:g}s")
            return matching()[-1]


def main(argv: list[str] | None = None) -> None:
    """Run the mail catcher until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Development SMTP server that keeps every message.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=None, help="save each message here as .eml")
    parser.add_argument("--quiet", action="store_true", help="do not print a line per message")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    catcher = MailCatcher(args.host, args.port, mail_dir=args.dir, echo=not args.quiet)
    catcher.start()
    saving = f", saving to {args.dir}" if args.dir else ""
    print(f"Mail catcher listening on smtp://{args.host}:{args.port}{saving}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        catcher.stop()


if __name__ == "__main__":
    main()
