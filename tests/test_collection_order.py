"""The start order of the suite (tests/conftest.py): the named longest modules exist, and start first."""

from __future__ import annotations

from core.config import PROJECT_ROOT
from tests.conftest import LONGEST_MODULES, pytest_collection_modifyitems


def test_every_named_longest_module_exists() -> None:
    assert [m for m in LONGEST_MODULES if not (PROJECT_ROOT / m).is_file()] == []


class _Item:
    def __init__(self, nodeid: str, slow: bool) -> None:
        self.nodeid, self.slow = nodeid, slow

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


def test_longest_first_then_slow_then_the_rest_each_module_together() -> None:
    items = [
        _Item("tests/core/test_text.py::test_a", slow=False),
        _Item("tests/core/test_raw_tables.py::test_b", slow=True),
        _Item(f"{LONGEST_MODULES[1]}::test_c", slow=True),
        _Item(f"{LONGEST_MODULES[0]}::test_d", slow=True),
        _Item(f"{LONGEST_MODULES[1]}::test_e", slow=True),
    ]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [i.nodeid.rsplit("::", 1)[1] for i in items] == ["test_d", "test_c", "test_e", "test_b", "test_a"]

