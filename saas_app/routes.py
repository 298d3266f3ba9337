"""Every path the product builds, in one place: pages, API downloads, links in emails, Stripe
return URLs. The API routers declare the same API paths (a test checks that each template
below is a route of the API); nothing else spells a path.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from saas_app.settings import get_settings

HOME = "/"
LOGIN = "/login"
VERIFY = "/auth/verify"
CREATE = "/create"
LIBRARY = "/library"
RENDER = "/render/[id]"
BILLING = "/billing"
ACCOUNT = "/account"
TEAM = "/team"
INVITE = "/invite"  # an invitation link opens it with `?token=...`

STYLESHEET = "/styles.css"

# Browser form posts handled by the API (they set or clear the HttpOnly cookie).
SESSION_SIGN_IN = "/api/auth/session"
SESSION_SIGN_OUT = "/api/auth/session/logout"
SESSION_SIGN_OUT_ALL = "/api/auth/session/logout-all"

# The API: its own pages, and the paths of API routes the product links to.
API_PREFIX = "/api/"
API_ANY = API_PREFIX + "{path:path}"  # unmatched API paths answer a JSON 404/405
API_DOCS = "/api/docs"
API_HEALTH = "/api/health"
API_OPENAPI = "/api/openapi.json"
API_RENDER_VIDEO = "/api/renders/{render_id}/video"
API_RENDER_THUMBNAIL = "/api/renders/{render_id}/thumbnail"
API_RENDER_FILE = "/api/renders/{render_id}/files/{key}"
API_EXPORT_DOWNLOAD = "/api/account/download-export/{filename}"
API_ASSETS = "/api/assets"
API_ASSET = "/api/assets/{asset_id}"
API_ASSET_FILE = "/api/assets/{asset_id}/file"
API_BILLING_WEBHOOK = "/api/billing/webhook"  # registered in Stripe's dashboard
METRICS = "/metrics"  # Prometheus scrapes it with `Authorization: Bearer <METRICS_TOKEN>`

# After signing in, never return to these (sign-in pages, or the API).
NO_RETURN_PREFIXES = (LOGIN, "/auth/", API_PREFIX)

# The billing page's `checkout` query parameter when Stripe Checkout sends the browser back.
CHECKOUT_SUCCESS = "success"
CHECKOUT_CANCELED = "canceled"

# Top-bar navigation: (label, path).
NAV_ITEMS = [("Create", CREATE), ("Library", LIBRARY), ("Team", TEAM), ("Billing", BILLING), ("Account", ACCOUNT)]


def render_path(render_id: str) -> str:
    """The page of one render."""
    return f"/render/{render_id}"


def login_with_next(next_path: str, address: str = "") -> str:
    """The sign-in page that returns to `next_path` afterwards (with `address` filled in, if given)."""
    return f"{LOGIN}?{urlencode({'next': next_path} | ({'address': address} if address else {}))}"


def login_signed_out() -> str:
    """The sign-in page after signing out (it says so)."""
    return f"{LOGIN}?{urlencode({'signed_out': '1'})}"


def login_access_lost() -> str:
    """The sign-in page after an open tab lost access to its workspace (it says so)."""
    return f"{LOGIN}?{urlencode({'signed_out': 'access'})}"


def login_for_address(email: str) -> str:
    """The sign-in page with `email` filled in (asking for a new link after an old one failed)."""
    return f"{LOGIN}?{urlencode({'address': email})}"


def absolute(path: str) -> str:
    """A path as a full URL on `APP_BASE_URL` (for emails, Stripe and API clients)."""
    return f"{get_settings().APP_BASE_URL}{path}"


def verify_link(token: str) -> str:
    """The sign-in link mailed to a user."""
    return f"{VERIFY}?{urlencode({'token': token})}"


def invite_link(token: str) -> str:
    """The invitation link mailed to an invitee."""
    return f"{INVITE}?{urlencode({'token': token})}"


def billing_return(outcome: str, plan_id: str | None = None) -> str:
    """Where Stripe Checkout sends the browser back (`outcome`: CHECKOUT_SUCCESS or CHECKOUT_CANCELED)."""
    params = {"checkout": outcome} | ({"plan": plan_id} if plan_id else {})
    return f"{BILLING}?{urlencode(params)}"


def render_video(render_id: str) -> str:
    """A render's MP4 (the player streams it; the API checks the tenant)."""
    return API_RENDER_VIDEO.format(render_id=quote(render_id, safe=""))


def render_thumbnail(render_id: str) -> str:
    """A render's thumbnail."""
    return API_RENDER_THUMBNAIL.format(render_id=quote(render_id, safe=""))


def render_file(render_id: str, key: str) -> str:
    """Any file a render keeps, by the key its step declares."""
    return API_RENDER_FILE.format(render_id=quote(render_id, safe=""), key=quote(key, safe=""))


def export_download(filename: str) -> str:
    """A data export's download (for its own tenant, while it lasts)."""
    return API_EXPORT_DOWNLOAD.format(filename=quote(filename, safe=""))
