"""Which browser origins may open a Socket.IO connection: engine.io's `cors_allowed_origins`."""


def origin_policy(configured: str | list[str] | None):
    """engine.io's setting for browser origins: same origin only by default; a configured list
    adds origins to the page's own instead of replacing it."""
    if configured == "*":
        return configured
    # None too: engine.io's own same-origin check would believe any X-Forwarded-Host
    extra = frozenset(configured or ())

    def allowed(origin: str, environ: dict) -> bool:
        return origin in extra or origin in _own_origins(environ)

    return allowed


def _own_origins(environ: dict) -> set[str]:
    """The origin this request was addressed to. Behind a proxy, PROXY_FIX (werkzeug's ProxyFix)
    has already put the forwarded scheme and host into environ; never trust them unasked."""
    return {f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}
