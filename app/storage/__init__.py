"""Storage layer: SQLAlchemy models and repositories, and the in-memory stores."""
