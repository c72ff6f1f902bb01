"""What protocol v1 accepts on the wire: JSON-only Socket.IO packets of bounded nesting.

Handed to python-socketio as its `json` module and packet class (`serializer`), both public
options; app/transport/refusals.py acts on the refusals these raise.
"""

import json
import sys

from engineio import json as engineio_json
from socketio import packet

# Protocol payloads nest two or three levels; the limit leaves plenty of room and keeps a
# 64 KiB packet of brackets (64,000 levels) from reaching any recursive code.
MAX_JSON_DEPTH = 64

dumps = json.dumps


class InvalidJsonError(ValueError):
    """JSON that is malformed or nested deeper than MAX_JSON_DEPTH."""


def loads(text, **kwargs):
    """json.loads with engine.io's cap on integer digits; raises InvalidJsonError (a ValueError,
    which engine.io's own decoder expects) for malformed JSON or JSON nested deeper than
    MAX_JSON_DEPTH, never a RecursionError."""
    try:
        value = engineio_json.loads(text, **kwargs)
    except RecursionError:
        raise InvalidJsonError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as error:
        raise InvalidJsonError("not valid JSON") from error
    if _openers(text) > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise InvalidJsonError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _openers(text: str | bytes) -> int:
    # a cheap upper bound on the depth: ordinary events have a handful of brackets
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _deeper_than(value, limit: int) -> bool:
    """Whether lists and dicts nest more than `limit` levels (walked without recursion)."""
    if not isinstance(value, list | dict):
        return False
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return False


class RefusedPacketError(ValueError):
    """A client packet protocol v1 does not accept. `header_read`: its type, namespace and
    ack id were read (only its JSON payload was refused), so an ack can answer it."""

    def __init__(
        self,
        reason: str,
        *,
        binary: bool = False,
        header_read: bool = False,
        packet_type: int | None = None,
        namespace: str | None = None,
        id: int | None = None,  # noqa: A002  (python-socketio's name for the ack id)
    ):
        super().__init__(reason)
        self.reason = reason
        self.binary = binary
        self.header_read = header_read
        self.packet_type = packet_type
        self.namespace = namespace
        self.id = id


# What a client may send: binary events and acks, and CONNECT_ERROR, are the server's alone.
_CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK})
_BINARY_TYPES = (str(packet.BINARY_EVENT), str(packet.BINARY_ACK))


class JsonOnlyPacket(packet.Packet):
    """python-socketio's packet, decoding only what protocol v1 accepts: no binary engine.io
    message, no binary Socket.IO packet (whose attachments python-socketio would buffer), no
    packet type a client may not send, no malformed or too deeply nested JSON. Each
    refusal is a RefusedPacketError, raised before anything is buffered or dispatched."""

    json = sys.modules[__name__]  # this module's loads and dumps

    def decode(self, encoded_packet):
        if not isinstance(encoded_packet, str):
            raise RefusedPacketError("a binary engine.io message", binary=True)
        if encoded_packet[:1] in _BINARY_TYPES:
            raise RefusedPacketError("a binary Socket.IO packet", binary=True)
        try:
            attachments = super().decode(encoded_packet)
        except InvalidJsonError as error:
            raise RefusedPacketError(
                str(error),
                header_read=True,
                packet_type=self.packet_type,
                namespace=self.namespace,
                id=self.id,
            ) from None
        except ValueError as error:
            raise RefusedPacketError(f"a malformed packet ({error})") from None
        if self.packet_type not in _CLIENT_PACKET_TYPES:
            raise RefusedPacketError(f"packet type {self.packet_type!r}")
        return attachments
