"""App assembly: pages and the API mount, nothing else."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.api.app import create_api
from saas_app.components.layout import protected
from saas_app.pages.account import account_page
from saas_app.pages.billing import billing_page
from saas_app.pages.create import create_page
from saas_app.pages.home import home_page
from saas_app.pages.invite import invite_page
from saas_app.pages.library import library_page
from saas_app.pages.login import login_page
from saas_app.pages.not_found import not_found_page
from saas_app.pages.render import render_page
from saas_app.pages.team import team_page
from saas_app.pages.verify import verify_page
from saas_app.state.account_data import AccountDataState
from saas_app.state.account_keys import AccountKeysState
from saas_app.state.account_person import AccountPersonState
from saas_app.state.account_security import AccountSecurityState
from saas_app.state.billing import BillingState
from saas_app.state.create import CreateState
from saas_app.state.home import HomeState
from saas_app.state.invite import InviteState
from saas_app.state.library import LibraryState
from saas_app.state.login import LoginState, VerifyState
from saas_app.state.principal_guard import PrincipalGuard
from saas_app.state.render import RenderState
from saas_app.state.session import SessionState
from saas_app.state.team import TeamState
from saas_app.state.usage import UsageState
from saas_app.state.workspaces import WorkspacesState

app = rx.App(
    api_transformer=create_api(main=True),
    head_components=[rx.el.meta(name="color-scheme", content="light")],
    stylesheets=[routes.STYLESHEET],
)
app.add_middleware(PrincipalGuard(), index=0)  # before Reflex sends a tab its state on (re)connect

app.add_page(login_page, route=routes.LOGIN, title="Sign in · Narrated Studio", on_load=LoginState.on_load)
app.add_page(verify_page, route=routes.VERIFY, title="Confirm sign-in · Narrated Studio",
             on_load=VerifyState.on_load)
app.add_page(home_page, route=routes.HOME, title="Narrated Studio · narrated videos from a topic",
             on_load=HomeState.on_load)
app.add_page(invite_page, route=routes.INVITE, title="Join a workspace · Narrated Studio",
             on_load=InviteState.on_load)
app.add_page(not_found_page, route="404", title="Page not found · Narrated Studio")

# Protected pages: the session check runs first, then the usage banner and the workspace switcher (which
# starts the tab's access watch), then the page's loader.
_PROTECTED_PAGES = [
    (create_page, routes.CREATE, "Create", [CreateState.load]),
    (library_page, routes.LIBRARY, "Library", [LibraryState.load]),
    (render_page, routes.RENDER, "Render", [RenderState.load]),
    (team_page, routes.TEAM, "Team", [TeamState.load]),
    (billing_page, routes.BILLING, "Billing", [BillingState.load]),
    (account_page, routes.ACCOUNT, "Account",
     [AccountDataState.load, AccountKeysState.load, AccountSecurityState.load, AccountPersonState.load]),
]
for component, route, title, loaders in _PROTECTED_PAGES:
    app.add_page(protected(component), route=route, title=f"{title} · Narrated Studio",
                 on_load=[SessionState.require_sign_in, UsageState.load_usage, WorkspacesState.load, *loaders])
