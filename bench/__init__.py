"""Benchmark of this server against the Node socket.io reference: `python -m bench`."""
