"""WSGI entry point: `flask --app wsgi run` and `gunicorn wsgi:app`."""

from app import create_app
from app.extensions import socketio
from app.shutdown import install_sigterm_handler

app = create_app()
# flask run: SIGTERM closes clients (they reconnect) and lets in-flight events finish.
install_sigterm_handler(app, socketio)
