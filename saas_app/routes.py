"""Every app path in one place (pages and the form-post endpoints they use)."""

from __future__ import annotations

from urllib.parse import urlencode

HOME = "/"
LOGIN = "/login"
VERIFY = "/auth/verify"
CREATE = "/create"
LIBRARY = "/library"
RENDER = "/render/[id]"
BILLING = "/billing"
ACCOUNT = "/account"

# Browser form posts handled by the API (they set or clear the HttpOnly cookie).
SESSION_SIGN_IN = "/api/auth/session"
SESSION_SIGN_OUT = "/api/auth/session/logout"
SESSION_SIGN_OUT_ALL = "/api/auth/session/logout-all"

# Top-bar navigation: (label, path).
NAV_ITEMS = [("Create", CREATE), ("Library", LIBRARY), ("Billing", BILLING), ("Account", ACCOUNT)]


def render_path(render_id: str) -> str:
    """The page of one render."""
    return f"/render/{render_id}"


def login_with_next(next_path: str) -> str:
    """The sign-in page that returns to `next_path` afterwards."""
    return f"{LOGIN}?{urlencode({'next': next_path})}"
