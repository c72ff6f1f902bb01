"""The chat's tunable numbers (protocol v1's defaults) and the settings that change them."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import budgets
from .budgets import Budgets


@dataclass(frozen=True, slots=True)
class Limits:
    """Tunable numbers of the protocol; defaults are protocol v1's, written only here and in
    Budgets (config.py reads them from both)."""

    join_page: int = 50
    catch_up_max: int = 500
    # `join` with `since` and `rev`: changed messages per ack
    updates_max: int = 500
    # distinct emoji on one message
    max_reactions: int = 20
    # an edit costs one more `message` token per this many live replies whose quote changes
    replies_per_token: int = 10
    history_default: int = 50
    history_max: int = 100
    # Refusals a user may ignore (refilled at 1/s) before their flooding connection is closed.
    flood_strikes: int = 20
    # How long a paired stranger may be disconnected before the partner is told they left.
    pair_grace_seconds: float = 10.0
    # Two users paired in stranger chat are not matched again for this long.
    pair_rematch_seconds: float = 600.0
    # A user reported by this many different people within `report_window_seconds` (since an
    # admin last reviewed a report about them) is held out of stranger matching.
    report_threshold: int = 3
    report_window_seconds: float = 24 * 3600.0
    # Every other event's buckets, and new public rooms per hour (app/domain/budgets.py).
    budgets: Budgets = field(default_factory=Budgets)
    # Seconds between two `presence` broadcasts of one user in one room (0: no coalescing).
    presence_coalesce: float = 2.0
    # A user is sent `dm_opened` by the same opener at most once in this many seconds.
    dm_notify_interval: float = 60.0
    rooms_page_max: int = 100


# Setting names (environment variables, see config.py) of the Limits fields they set; the
# budgets' own are in budgets.SETTINGS.
SETTINGS = {
    "FLOOD_STRIKES": "flood_strikes",
    "PAIR_GRACE_SECONDS": "pair_grace_seconds",
    "PAIR_REMATCH_SECONDS": "pair_rematch_seconds",
    "PRESENCE_COALESCE": "presence_coalesce",
}


def default_settings() -> dict[str, float | int]:
    """Every setting of the limits at its default (the budgets' too), typed as its field."""
    defaults = Limits()
    own = {name: getattr(defaults, attribute) for name, attribute in SETTINGS.items()}
    return {**budgets.default_settings(), **own}


def limits_from_settings(settings: Mapping) -> Limits:
    """Limits from a settings mapping (the app's config); a missing name keeps its default."""
    defaults = Limits()
    values = {
        attribute: type(getattr(defaults, attribute))(settings[name])
        for name, attribute in SETTINGS.items()
        if name in settings
    }
    return Limits(budgets=budgets.budgets_from_settings(settings), **values)
