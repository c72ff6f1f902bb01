"""Broadcasts under gevent: one WebSocket frame per packet, written at once to each recipient."""

import logging
import struct

log = logging.getLogger(__name__)


class PreparedFrame(bytes):
    """WebSocket frame bytes, ready for the wire."""


class _PreparedPacket:
    """Queued like an engine.io packet; engine.io's writer passes `encode()` to send()."""

    __slots__ = ("frame",)
    binary = False

    def __init__(self, frame: PreparedFrame):
        self.frame = frame

    def encode(self, b64: bool = False) -> PreparedFrame:
        return self.frame


def text_frame(text: str) -> PreparedFrame:
    """One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return PreparedFrame(header + payload)


def write_broadcasts_directly(sio_server) -> None:
    """A broadcast builds its WebSocket frame once and writes it to each recipient's socket
    right away, instead of queueing the packet for that connection's writer task (which
    frames it again with wsproto and wakes a greenlet per recipient).

    Only under gevent, where nothing runs between the checks and the write below: the
    connection must be on WebSocket with nothing queued and nothing being written, so the
    frame cannot overtake an earlier packet. The write never blocks; what the kernel does
    not take at once is queued, and the writer task sends it before anything else. The
    connection's `direct_writer` (and its `writing` flag) come from app/transport/websocket.py.
    """
    eio = sio_server.eio
    if eio.async_mode != "gevent":
        return
    send_packet = sio_server._send_eio_packet

    def send_eio_packet(eio_sid, pkt):
        eio_socket = eio.sockets.get(eio_sid)
        writer = getattr(eio_socket, "direct_writer", None)
        if (
            writer is None
            or writer.writing
            or pkt.binary
            or not eio_socket.upgraded
            or eio_socket.upgrading
            or eio_socket.closed
            or eio_socket.closing
            or not eio_socket.queue.empty()
        ):
            return send_packet(eio_sid, pkt)
        frame = pkt.__dict__.get("prepared_frame")
        if frame is None:
            frame = pkt.prepared_frame = text_frame(pkt.encode())
        try:
            sent = writer.ws.sock._sock.send(frame)  # the non-blocking OS socket
        except BlockingIOError:
            sent = 0
        except OSError:
            return send_packet(eio_sid, pkt)  # the writer task sees the error and closes
        if sent < len(frame):
            log.debug("%s: %d of %d bytes written, the rest queued", eio_sid, sent, len(frame))
            eio_socket.queue.put(_PreparedPacket(PreparedFrame(frame[sent:])))

    sio_server._send_eio_packet = send_eio_packet
