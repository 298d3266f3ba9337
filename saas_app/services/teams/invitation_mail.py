"""The invitation email: who invites, to which workspace, the link and how long it works."""

from __future__ import annotations

import html

from saas_app.services.core.mail import send_email


def _bodies(*, link: str, workspace: str, inviter: str, role: str, days: int) -> tuple[str, str]:
    text = (
        f"{inviter} invited you to join {workspace} on Narrated Studio as {role}.\n\n"
        f"Open this link to accept:\n{link}\n\n"
        f"Sign in with this email address when asked. The link works once and expires in {days} days.\n"
        "If you did not expect this invitation, ignore this email.\n"
    )
    safe = {k: html.escape(v, quote=True) for k, v in
            {"link": link, "workspace": workspace, "inviter": inviter, "role": role}.items()}
    body = (
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1f1f2e\">"
        f"<h2>Join {safe['workspace']} on Narrated Studio</h2>"
        f"<p>{safe['inviter']} invited you to join <strong>{safe['workspace']}</strong> as {safe['role']}.</p>"
        f"<p><a href=\"{safe['link']}\" style=\"background:#6d28d9;color:#fff;padding:10px 16px;"
        "border-radius:6px;text-decoration:none\">Accept the invitation</a></p>"
        f"<p>Sign in with this email address when asked. The link works once and expires in {days} days. "
        "If you did not expect this invitation, ignore this email.</p></body></html>"
    )
    return text, body


def send_invitation(*, to: str, link: str, workspace: str, inviter: str, role: str, days: int) -> None:
    """Email an invitation link.

    Raises:
        ServiceUnavailable: The SMTP server cannot be reached or refuses the message.
    """
    text, body = _bodies(link=link, workspace=workspace, inviter=inviter, role=role, days=days)
    send_email(to=to, subject=f"{inviter} invited you to {workspace} on Narrated Studio", text=text, html=body)
