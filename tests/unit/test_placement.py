"""Where a guest with PCI devices and its backends run (umlharness/placement.py)."""

from __future__ import annotations

from umlharness.placement import CpuPlacement


def test_uml_gets_one_cpu_and_its_backends_the_others() -> None:
    placement = CpuPlacement.choose("uh-1234", frozenset({0, 1, 2, 3}))
    assert placement.uml is not None and placement.devices is not None
    assert len(placement.uml) == 1
    assert placement.uml | placement.devices == {0, 1, 2, 3}
    assert not placement.uml & placement.devices


def test_the_same_umid_gets_the_same_cpu_and_guests_spread() -> None:
    cpus = frozenset({0, 1})
    assert CpuPlacement.choose("uh-a", cpus) == CpuPlacement.choose("uh-a", cpus)
    chosen = {CpuPlacement.choose(f"uh-{n}", cpus).uml for n in range(20)}
    assert chosen == {frozenset({0}), frozenset({1})}


def test_one_cpu_pins_nothing() -> None:
    placement = CpuPlacement.choose("uh-a", frozenset({5}))
    assert placement == CpuPlacement()
    placement.pin_uml()  # no-ops
    placement.pin_device(1)
