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
    # One app process keeps tab states on its disk; several share them in Redis, so any process
    # serves any tab (REFLEX_REDIS_URL, a database of its own: see docs/deploy.md).
    state_manager_mode="redis" if _settings.REFLEX_REDIS_URL else "disk",
    redis_url=_settings.REFLEX_REDIS_URL or None,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
