"""A trace played back to a driver with no model (simulators/pci/replay.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.errors import SimulatorError
from simulators.pci.replay import AddressMap, ReplayFunction
from simulators.pci.trace import step_event


def _trace(path: Path, events: list[dict[str, object]]) -> Path:
    header = {"trace": 1, "model": "pcitest", "options": {}, "slot": "pci0", "monotonic_ns": 0}
    path.write_text("".join(json.dumps(line) + "\n" for line in [header, *events]))
    return path


def _read(n: int, bar: int, addr: int, data: str, op: str = "MMIO_READ") -> dict[str, object]:
    return {
        "t": n,
        "n": n,
        "op": op,
        "bar": bar,
        "addr": addr,
        "size": len(data) // 2,
        "data": data,
    }


def test_reads_get_the_recorded_answers_in_turn_then_the_last_again(tmp_path: Path) -> None:
    trace = _trace(
        tmp_path / "t",
        [
            _read(1, 0, 0, "00000000", op="CFG_READ"),
            _read(2, 0, 0x24, "01000000"),
            _read(3, 0, 0x24, "00000000"),
        ],
    )
    replay = ReplayFunction(str(trace))
    assert replay.cfg_read(0, 4) == bytes(4)
    assert [replay.mmio_read(0, 0x24, 4) for _ in range(3)] == [
        b"\x01\0\0\0",
        bytes(4),
        bytes(4),
    ]
    assert replay.mmio_read(0, 0x28, 4) == b"\xff" * 4
    assert replay.unknown_reads == 1


def test_an_interrupt_comes_after_as_many_accesses_and_in_its_step(tmp_path: Path) -> None:
    msi = {"op": "MSI", "data": "00", "message": "abcd"}
    trace = _trace(
        tmp_path / "t",
        [
            {"t": 1, "n": 2, **msi},
            step_event(5, 1, "cat scratch"),
            {"t": 6, "n": 2, **msi, "message": "beef"},
        ],
    )
    replay = ReplayFunction(str(trace))
    sent: list[bytes] = []
    replay.send_irq = sent.append
    replay.mmio_write(0, 0, b"\0")
    assert sent == []
    replay.mmio_write(0, 0, b"\0")
    assert sent == [b"\xab\xcd"]  # the second access
    replay.mmio_write(0, 0, b"\0")
    assert sent == [b"\xab\xcd"] and replay.pending() == 1  # not before its step
    replay.step(1)
    assert sent == [b"\xab\xcd", b"\xbe\xef"] and replay.pending() == 0


def test_a_trace_whose_msis_lack_their_message_is_refused(tmp_path: Path) -> None:
    trace = _trace(tmp_path / "t", [{"t": 1, "op": "MSI", "data": "00"}])
    with pytest.raises(SimulatorError, match="record it again"):
        ReplayFunction(str(trace))


def test_a_buffer_address_that_moved_is_learned_and_dma_goes_to_the_new_one() -> None:
    addresses = AddressMap()
    assert addresses.place(0xAF4000, 16) == 0xAF4000  # nothing differs yet: as recorded
    # The driver wrote its ring's address, another page than the recording's.
    assert addresses.learn((0xAF4000).to_bytes(4, "little"), (0xB1D000).to_bytes(4, "little"))
    assert addresses.place(0xAF4010, 16) == 0xB1D010
    assert addresses.place(0x10_0000, 16) is None  # in no buffer the driver gave
    # A descriptor read back by the device names a moved buffer: its address is made new.
    assert addresses.rewrite((0xAF4000).to_bytes(8, "little")) == (0xB1D000).to_bytes(8, "little")


def test_an_address_with_command_bits_is_learned_but_other_differences_are_not() -> None:
    addresses = AddressMap()
    assert addresses.learn((0xAFD001).to_bytes(4, "little"), (0xAFC001).to_bytes(4, "little"))
    assert addresses.place(0xAFD000, 64) == 0xAFC000
    assert not addresses.learn((3).to_bytes(4, "little"), (4).to_bytes(4, "little"))


def test_a_write_the_recording_does_not_have_is_a_divergence_and_stops_dma(
    tmp_path: Path,
) -> None:
    write = {"t": 1, "n": 1, "op": "MMIO_WRITE", "bar": 0, "addr": 0x10, "size": 4}
    trace = _trace(
        tmp_path / "t",
        [
            {**write, "data": "05000000"},
            {"t": 2, "n": 2, "op": "DMA_WRITE", "addr": 0x20000, "size": 1, "data": "aa"},
        ],
    )
    replay = ReplayFunction(str(trace))
    replay.mmio_write(0, 0x10, b"\x06\0\0\0")
    assert "wrote 06000000 at BAR0 0x10, not 05000000" in (replay.divergence() or "")
    replay.mmio_write(0, 0x14, b"\0")  # the second access: the DMA write is due, not made
    assert replay.dropped() == 1 and replay.pending() == 0
