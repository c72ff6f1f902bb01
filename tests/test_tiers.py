"""The tiers: tests/conftest.py marks tests by folder and refuses a live module with no tier."""

import types

import pytest

from tests import conftest

# the module, not its names: imported here, they would make this module look live itself
from tests.support import live


class Item:
    """What the collection hook reads and writes of a pytest item."""

    def __init__(self, path: str, module, *markers: str):
        self.path = conftest.TESTS / path
        self.nodeid = path
        self.module = module
        self.own_markers = [getattr(pytest.mark, name).mark for name in markers]

    def iter_markers(self):
        return iter(self.own_markers)

    def add_marker(self, name: str) -> None:
        self.own_markers.append(getattr(pytest.mark, name).mark)


def module(**names) -> types.SimpleNamespace:
    """A stand-in for a test module: its global names."""
    return types.SimpleNamespace(**names)


def tiers_after_collection(*items: Item) -> list[set[str]]:
    conftest.pytest_collection_modifyitems(None, list(items))
    return [conftest.tiers(item) for item in items]


def test_the_tier_folders_mark_their_tests_and_a_module_may_name_its_own():
    assert tiers_after_collection(
        Item("browser/test_page.py", module()),
        Item("scaleout/test_many.py", module()),
        Item("reliability/test_crash.py", module(LiveServer=live.LiveServer)),
        Item("reliability/test_soak.py", module(live_server=live.live_server), "soak"),
        Item("domain/test_service.py", module()),
        Item("test_http.py", module()),
    ) == [{"browser"}, {"scaleout"}, {"live"}, {"soak"}, set(), set()]


@pytest.mark.parametrize(
    ("name", "helper"),
    [
        ("LiveServer", live.LiveServer),
        ("live_server", live.live_server),
        ("start", live.live_server),
    ],
)
def test_a_top_level_module_starting_a_real_server_without_a_tier_is_refused(name, helper):
    unmarked = Item("test_new.py", module(**{name: helper}))
    with pytest.raises(pytest.UsageError, match=f"test_new.py starts a real server \\({name}\\)"):
        tiers_after_collection(unmarked)


def test_a_top_level_module_starting_a_real_server_with_its_tier_is_collected():
    marked = Item("test_new.py", module(live_server=live.live_server), "live")
    assert tiers_after_collection(marked) == [{"live"}]
