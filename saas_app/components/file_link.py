"""A link to a file the API serves (a video, an export): a real browser download.

Reflex turns every link with an `href` into a client-side route change, so a link to
`/api/...` would open the single-page app's "page not found" instead of the file.
`reload_document` hands the click back to the browser, which saves the file under the name the
API's `Content-Disposition` gives it (`services/core/downloads.py`).
"""

from __future__ import annotations

import reflex as rx


def file_download(*children: rx.Component | str, href: rx.Var | str, **props) -> rx.Component:
    """A link that downloads the file at `href` (an API path) instead of navigating inside the app."""
    return rx.link(*children, href=href, reload_document=True, download="", underline="none", **props)
