"""Reflex configuration, read from the app's one settings object."""

import reflex as rx

from saas_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="saas_app",
    telemetry_enabled=False,
    frontend_port=_settings.PORT,
    backend_port=_settings.PORT,
    deploy_url=_settings.APP_BASE_URL,
    api_url=_settings.APP_BASE_URL,
    show_built_with_reflex=False,
    trusted_proxy_hops=_settings.TRUSTED_PROXY_HOPS,
    # Only the app's own pages may open the websocket or call the API with credentials (CSRF).
    cors_allowed_origins=_settings.allowed_origins,
    state_manager_mode="disk",
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
