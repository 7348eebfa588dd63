"""GcPolicy: survivors are frozen every `every` commands; cyclic garbage that was frozen is
reclaimed by the full collection (settle)."""

from __future__ import annotations

import gc
import weakref

import pytest

from perpsim.venue.gcpolicy import GcPolicy


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_survivors_are_frozen_every_n_commands() -> None:
    policy = GcPolicy(every=3)
    kept = [Node() for _ in range(100)]
    policy.observe(None, [])
    policy.observe(None, [])
    assert policy.freezes == 0 and gc.get_freeze_count() == 0
    policy.observe(None, [])
    assert policy.freezes == 1
    assert gc.get_freeze_count() >= len(kept)  # the live objects left the collector's generations


def test_frozen_cyclic_garbage_is_reclaimed_by_the_full_collection() -> None:
    policy = GcPolicy(every=1)
    node = Node()
    ref = weakref.ref(node)
    policy.observe(None, [])  # frozen while alive
    del node
    gc.collect()
    assert ref() is not None  # frozen: no collection sees it
    policy.settle()
    assert ref() is None
