"""Routing tests: listeners on the real channel layer, fast password hashing for the many agents, and no
presence, position or pending-run keys of this run left behind in the shared Redis."""

from collections.abc import Callable, Iterator

import pytest

from tests.routing.helpers import GroupListener, routing_keys_clear


@pytest.fixture
def listen() -> Iterator[Callable[..., GroupListener]]:
    """`listen(group, ...)` subscribes to channel-layer groups on the real layer for the rest of the test."""
    listeners: list[GroupListener] = []

    def start(*groups: str) -> GroupListener:
        listeners.append(GroupListener(groups))
        return listeners[-1]

    yield start
    for listener in listeners:
        listener.close()


@pytest.fixture(autouse=True)
def routing_keys_cleared() -> Iterator[None]:
    yield
    routing_keys_clear()
