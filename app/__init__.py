"""The chat server package; `create_app` builds the Flask application."""


def create_app(config_object=None):
    """Build the app (see app/factory.py). Imported lazily so that the domain and storage
    layers can be used, and tested, without loading Flask at all."""
    from .factory import create_app as build

    return build(config_object)
