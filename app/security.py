"""Security headers (Flask-Talisman), the Host check and the trusted reverse proxy."""

import logging

from flask import Flask
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

# The page loads its modules, stylesheet and Socket.IO client from /static, and opens its
# WebSocket to the same origin ('self' covers ws: and wss: there). No inline script or style.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",  # the empty favicon is a data: URL
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",  # never framed: no clickjacking of Block or Start
}


def secure_headers(app: Flask) -> None:
    """CSP, X-Frame-Options: DENY, nosniff and Referrer-Policy on every Flask response; HSTS on
    HTTPS responses in production. Cookie flags stay as config.py sets them."""
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # TLS ends at the proxy; redirecting is its job
        strict_transport_security=app.config.get("ENV_NAME") == "production",
        # the operator's other subdomains may not speak HTTPS: theirs to decide in the proxy
        strict_transport_security_include_subdomains=False,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=app.config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )


def check_hosts(app: Flask) -> None:
    """Flask answers 400 to a Host outside TRUSTED_HOSTS; production says when none are set."""
    if not app.config.get("TRUSTED_HOSTS") and app.config.get("ENV_NAME") == "production":
        log.warning(
            "TRUSTED_HOSTS is not set: any Host header is accepted. Set it to the host "
            "names this server answers to, e.g. TRUSTED_HOSTS=chat.example.com."
        )


def trust_proxy(app: Flask) -> None:
    """Behind PROXY_FIX reverse proxies, take the client's address, scheme, host and port from
    their X-Forwarded-* headers; with 0 (the default) those headers are ignored."""
    proxies = app.config.get("PROXY_FIX", 0)
    if proxies > 0:
        # outermost, around Socket.IO's middleware too: its Origin check sees the fixed Host
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
