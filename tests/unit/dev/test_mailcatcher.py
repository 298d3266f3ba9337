from __future__ import annotations

import email
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from saas_app.dev.mailcatcher import MailCatcher, summarize
from saas_app.settings import PROJECT_ROOT

LINK = "http://localhost:3000/auth/verify?token=abcDEF123_-x"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send(port: int, to: str, code: str = "123456", link: str = LINK) -> None:
    msg = EmailMessage()
    msg["From"] = "Narrated Studio <no-reply@localhost>"
    msg["To"] = to
    msg["Subject"] = f"Your sign-in link (code {code})"
    msg.set_content(f"Sign in with this link:\n{link}\n\nOr enter this code: {code}\n")
    msg.add_alternative(f'<p><a href="{link}">Sign in</a></p><p>{code}</p>', subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(msg)


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    mail = MailCatcher(port=_free_port(), mail_dir=tmp_path / "mail", echo=True)
    mail.start()
    yield mail
    mail.stop()


def test_receives_parses_saves_and_echoes(
    catcher: MailCatcher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _send(catcher.port, "alice@example.com")

    msg = catcher.wait_for("Alice@Example.com", timeout=5)

    assert msg["Subject"] == "Your sign-in link (code 123456)"
    assert LINK in msg.get_body(preferencelist=("plain",)).get_content()
    assert "<a href=" in msg.get_body(preferencelist=("html",)).get_content()
    assert [m["Subject"] for m in catcher.messages()] == [msg["Subject"]]
    saved = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(saved) == 1 and saved[0].name.endswith("-1.eml")
    parsed = email.message_from_bytes(saved[0].read_bytes(), policy=default_policy)
    assert parsed["To"] == "alice@example.com"
    out = capsys.readouterr().out
    assert "alice@example.com" in out and "code 123456" in out and LINK in out


def test_wait_for_counts_per_recipient_and_returns_newest(catcher: MailCatcher) -> None:
    _send(catcher.port, "bob@example.com", code="111111")
    _send(catcher.port, "carol@example.com", code="222222")
    _send(catcher.port, "bob@example.com", code="333333")

    newest = catcher.wait_for("bob@example.com", count=2, timeout=5)

    assert "333333" in newest["Subject"]
    assert len(catcher.messages()) == 3


def test_wait_for_times_out(catcher: MailCatcher) -> None:
    _send(catcher.port, "dave@example.com")
    catcher.wait_for("dave@example.com", timeout=5)

    with pytest.raises(TimeoutError, match="1 of 2"):
        catcher.wait_for("dave@example.com", count=2, timeout=0.3)
    with pytest.raises(TimeoutError):
        catcher.wait_for("nobody@example.com", timeout=0.2)


def test_clear_forgets_messages(catcher: MailCatcher) -> None:
    _send(catcher.port, "erin@example.com")
    catcher.wait_for("erin@example.com", timeout=5)

    catcher.clear()

    assert catcher.messages() == []
    _send(catcher.port, "erin@example.com", code="999999")
    assert "999999" in catcher.wait_for("erin@example.com", timeout=5)["Subject"]


def test_summarize_without_link_shows_subject() -> None:
    msg = EmailMessage()
    msg["To"] = "frank@example.com"
    msg["Subject"] = "Your export is ready"
    msg.set_content("Download it from the app.")

    assert summarize(msg) == "[mail] to frank@example.com | subject: Your export is ready"


def test_cli_runs_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "saas_app.dev.mailcatcher", "--port", str(port), "--dir", str(tmp_path)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert "listening on smtp://127.0.0.1:" in proc.stdout.readline()
        _send(port, "grace@example.com", code="424242")
        assert "grace@example.com | code 424242 |" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert len(list(tmp_path.glob("*.eml"))) == 1
