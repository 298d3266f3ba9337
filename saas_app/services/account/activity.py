"""The activity log in plain words: one sentence per audit action, and devices named from user agents."""

from __future__ import annotations

import re

from saas_app.models import AuditLog

_BROWSERS = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"), ("curl/", "curl"), ("python-httpx", "Python"), ("python-requests", "Python")]
_SYSTEMS = [("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")]

# Every audit action the product records, as a sentence ("{device}": the browser and system it came from).
# Several people act in a workspace and the activity list names who did it beside the sentence, so a
# sentence never says "you".
SENTENCES: dict[str, str] = {
    "tenant.created": "The workspace was created",
    "workspace.switched": "Switched to this workspace",
    "auth.link_requested": "A sign-in link was emailed",
    "auth.signed_in": "Signed in from {device}",
    "auth.logout": "Signed out on {device}",
    "auth.logout_all": "Signed out everywhere",
    "auth.session_revoked": "Signed out another device",
    "auth.refresh_reuse_detected": "A stolen sign-in was stopped and that device signed out",
    "render.created": "Created a video",
    "render.canceled": "Canceled a video",
    "render.deleted": "Deleted a video",
    "asset.uploaded": "Uploaded a file to the library",
    "asset.deleted": "Deleted a file from the library",
    "api_key.created": "Created an API key",
    "api_key.rotated": "Replaced an API key (the old one stopped working)",
    "api_key.revoked": "Revoked an API key",
    "account.export_requested": "Asked for a copy of their data",
    "account.deletion_scheduled": "Scheduled the workspace's deletion",
    "account.deletion_canceled": "Canceled the workspace's deletion",
    "account.purged": "The workspace was deleted",
    "account.user_purged": "An account was deleted",
    "account.user_deletion_scheduled": "Scheduled their account's deletion",
    "account.user_deletion_canceled": "Canceled their account's deletion",
    "account.user_deletion_blocked": "An account was not deleted: its owner is the only owner of a shared workspace",
    "account.member_deleted": "A member deleted their account; their videos stay with the workspace",
    "billing.checkout_started": "Opened checkout to change plan",
    "billing.portal_opened": "Opened the billing portal",
    "team.invitation_sent": "An invitation to join the workspace was emailed",
    "team.invitation_resent": "An invitation was emailed again with a new link",
    "team.invitation_revoked": "An invitation was withdrawn",
    "team.member_joined": "Someone joined the workspace from an invitation",
    "team.role_changed": "A member's role was changed",
    "team.member_removed": "A member was removed from the workspace",
    "team.member_left": "A member left the workspace",
}
_BILLING_EVENT = "Billing updated by Stripe"
UNKNOWN_DEVICE = "Unknown device"


def describe_device(user_agent: str) -> str:
    """A short device name from a user agent, e.g. "Chrome on Linux"."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    if re.search(r"HeadlessChrome", user_agent):
        browser = "Headless Chrome"
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or UNKNOWN_DEVICE


def describe_event(row: AuditLog) -> str:
    """One activity row as a sentence, e.g. "Created a video" or "Signed in from Chrome on Linux"."""
    template = SENTENCES.get(row.action)
    if template is None:
        return _BILLING_EVENT if row.action.startswith("billing.") else row.action.replace("_", " ").capitalize()
    device = describe_device(row.user_agent)
    return template.format(device="an unknown device" if device == UNKNOWN_DEVICE else device)
