"""Fuzz scripts and reproducer files (umlharness/fuzz.py, umlharness/reproducer.py)."""

from __future__ import annotations

from pathlib import Path

import construct as cs
import numpy as np
import pytest
from hypothesis import given, settings

from umlharness.errors import HarnessError
from umlharness.fuzz import Event, FuzzTarget, Poke, Script, scripts
from umlharness.fuzz_targets import TARGETS, fuzz_target
from umlharness.reproducer import IomemRecorder, Reproducer, is_trace

TARGET = FuzzTarget(
    "uh_demo",
    "iomem",
    "demo",
    workload=("modprobe uh_demo", "cat /sys/x"),
    layout=cs.Struct("ID" / cs.Int32ul, "MODE" / cs.Int16ul, "FLAGS" / cs.Int8ul),
    fixed=frozenset({"ID"}),
    events={"interrupt": lambda model: None},
)


@settings(max_examples=50)
@given(scripts(TARGET))
def test_a_script_has_a_step_per_command_and_pokes_fit_their_register(script: Script) -> None:
    assert len(script) == len(TARGET.workload)
    sizes = {"MODE": 2, "FLAGS": 1}
    for step in script:
        for action in step:
            if isinstance(action, Poke):
                assert len(action.data) == sizes[action.register]  # never the fixed ID
            else:
                assert action == Event("interrupt")


def test_built_in_targets_have_register_maps_and_unknown_names_are_one_line() -> None:
    for target in TARGETS.values():
        assert target.register_map().sizeof() > 0
    with pytest.raises(HarnessError, match="no fuzz target 'nope'; targets: uh_thermo"):
        fuzz_target("nope")


def test_a_reproducer_survives_a_round_trip(tmp_path: Path) -> None:
    reproducer = Reproducer(
        "uh_demo",
        "iomem",
        "demo",
        ("modprobe uh_demo",),
        "6.12",
        "kasan",
        ({"op": "STEP", "addr": 1, "command": "modprobe uh_demo"},),
        {"kind": "oops", "signature": "oops: x"},
        ("poke MODE 0400",),
    )
    path = reproducer.save(tmp_path)
    assert Reproducer.load(path) == reproducer and not is_trace(path)
    path.write_text("{}\n")
    with pytest.raises(HarnessError, match="is not a umlharness reproducer"):
        Reproducer.load(path)


def test_the_recorder_keeps_runs_of_changed_bytes_and_interrupts_in_order(
    tmp_path: Path,
) -> None:
    region = tmp_path / "region"
    region.write_bytes(bytes(64))
    recorder = IomemRecorder(region)
    mapped = np.memmap(region, np.uint8, mode="r+")
    recorder.step(1, "modprobe uh_demo")
    mapped[4:6] = [1, 2]
    mapped[10] = 9
    recorder.region()
    recorder.interrupt()
    assert recorder.events == [
        {"op": "STEP", "addr": 1, "command": "modprobe uh_demo"},
        {"op": "REGION", "runs": [[4, "0102"], [10, "09"]]},
        {"op": "IRQ"},
    ]
