"""A plain HTML form that the browser submits itself (no Reflex submit handler).

Used for the few endpoints that set or clear the HttpOnly session cookie: the browser
posts the form, the server answers 303 with `Set-Cookie`, and page scripts never see a
token.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Form


class NativeForm(Form):
    """`<form action=... method="post">` submitted natively by the browser."""

    @classmethod
    def create(cls, *children, **props) -> rx.Component:
        """Create the form without Reflex's default `preventDefault` submit handler."""
        props.setdefault("method", "post")
        props["handle_submit_unique_name"] = "native"
        return super(Form, cls).create(*children, **props)

    def add_hooks(self) -> list[str]:
        """No submit hook: the browser submits the form."""
        return []


native_form = NativeForm.create
