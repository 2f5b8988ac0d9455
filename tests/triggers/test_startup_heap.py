"""The once-per-process freeze of the triggerer's start-up heap (``triggers.startup_heap``)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.triggers import startup_heap


class FakeGc:
    def __init__(self) -> None:
        self.freezes = 0

    def freeze(self) -> None:
        self.freezes += 1

    def get_freeze_count(self) -> int:
        return 123 * self.freezes


@pytest.fixture
def fake_gc(monkeypatch: pytest.MonkeyPatch) -> FakeGc:
    fake = FakeGc()
    monkeypatch.setattr(startup_heap, "gc", fake)
    monkeypatch.setattr(startup_heap, "_frozen_once", False)
    return fake


def test_the_heap_is_frozen_once_per_process(fake_gc: FakeGc):
    assert startup_heap.freeze_startup_heap_once() is True
    assert startup_heap.freeze_startup_heap_once() is False
    assert fake_gc.freezes == 1


def test_the_freeze_can_be_turned_off(fake_gc: FakeGc, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW__DOMINO__TRIGGERER_GC_FREEZE", "False")
    assert startup_heap.freeze_startup_heap_once() is False
    assert fake_gc.freezes == 0


def test_a_trigger_freezes_the_heap_after_its_first_poll(fake_gc: FakeGc):
    from tests.triggers.test_trigger_decisions import FakeAsyncHook, run_trigger

    hook: Any = FakeAsyncHook(["Running", "Running", "Succeeded"])
    assert run_trigger(hook)["status"] == "success"
    assert fake_gc.freezes == 1
