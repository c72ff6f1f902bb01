"""The chat's services, one per feature on one shared core: what the transport calls."""

from dataclasses import dataclass

from .connections import ConnectionService
from .core import Core
from .direct import DirectService
from .limits import Limits
from .messages import MessageService
from .moderation import ModerationService
from .ports import Ports, RoomLocks
from .reports import ReportService
from .rooms import RoomService
from .strangers import StrangerService


@dataclass(frozen=True, slots=True)
class ChatServices:
    """Every socket event, API post and CLI post ends up in one of these."""

    connections: ConnectionService
    rooms: RoomService
    messages: MessageService
    direct: DirectService
    strangers: StrangerService
    ports: Ports
    reports: ReportService
    moderation: ModerationService

    @classmethod
    def build(cls, ports: Ports, limits: Limits | None = None) -> "ChatServices":
        """The services over `ports`, sharing one core (limits, budgets, presence windows)."""
        core = Core(ports, limits)
        rooms = RoomService(core)
        strangers = StrangerService(core)
        moderation = ModerationService(core, rooms)
        return cls(
            connections=ConnectionService(core, strangers),
            rooms=rooms,
            messages=MessageService(core, moderation),
            direct=DirectService(core, rooms, strangers),
            strangers=strangers,
            ports=ports,
            reports=ReportService(core, strangers),
            moderation=moderation,
        )

    @property
    def locks(self) -> RoomLocks:
        """The rooms' locks (a join's ack is queued before they are let go: app/events.py)."""
        return self.ports.locks
