"""Keyboard focus for dialogs that the state opens (`open=` a state var, no Radix Trigger).

Radix gives focus back only to its own Trigger, so without one, closing a dialog drops focus to the
page body, and a dialog opened from a menu can lose its focus to the menu's trigger. These handlers
run in the browser, at once: on open, focus the dialog's first field (or Radix's default, the
Cancel button of a confirmation) and remember what had focus; on close, focus the trigger again.
"""

from __future__ import annotations

import json

from reflex.vars import Var
from reflex_base.vars.function import FunctionStringVar

_OPEN = ("((e) => {{ const before = document.activeElement; "
         "if (before && before !== document.body) {{ window.__nsDialogReturn = before; }} "
         "const first = {first} && document.getElementById({first}); "
         "if (first) {{ e.preventDefault(); first.focus(); }} }})")
_CLOSE = ("((e) => {{ const back = ({trigger} && document.getElementById({trigger})) || window.__nsDialogReturn; "
          "window.__nsDialogReturn = null; "
          "if (back && back.isConnected) {{ e.preventDefault(); back.focus(); }} }})")
# A menu that opened a dialog must not take the focus back to its own trigger when it closes.
_MENU_CLOSE = ("((e) => { if (document.querySelector('[role=dialog][data-state=open], "
               "[role=alertdialog][data-state=open]')) { e.preventDefault(); } })")


def dialog_focus(first_id: str = "", trigger_id: str = "") -> dict[str, Var]:
    """`on_open_auto_focus`/`on_close_auto_focus` for a dialog's content: focus `first_id` when it
    opens (Radix's default when empty) and give focus back to `trigger_id` (else to whatever had
    focus when it opened) when it closes."""
    first, trigger = json.dumps(first_id), json.dumps(trigger_id)
    return {"on_open_auto_focus": FunctionStringVar.create(_OPEN.format(first=first)),
            "on_close_auto_focus": FunctionStringVar.create(_CLOSE.format(trigger=trigger))}


def menu_keeps_dialog_focus() -> dict[str, Var]:
    """`on_close_auto_focus` for a menu's content whose items open dialogs."""
    return {"on_close_auto_focus": FunctionStringVar.create(_MENU_CLOSE)}
