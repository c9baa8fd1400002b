"""The RTL8111 model end to end against a fake driver: registers in memory, a real socket."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from simulators.errors import AckTimeout, SimulatorError
from simulators.irq import InterruptLine
from simulators.regfile import RegisterFile
from simulators.rtl8111.model import DEFAULT_MAC, XID, LinkState, Rtl8111
from simulators.rtl8111.regs import RTL8111, Intr, PhyStatus
from umlharness.testing import FakeDriver

from .fake_driver import LinkHandler

UP_1000_FULL = PhyStatus.LinkStatus | PhyStatus._1000bpsF | PhyStatus.FullDup


@pytest.fixture
def regs() -> RegisterFile:
    regs = RegisterFile(RTL8111, np.zeros(0x100, np.uint8), device="RTL8111")
    regs.write("IntrMask", Intr.LinkChg | Intr.SWInt)  # as uh_rtl8111 leaves it once loaded
    return regs


@pytest.fixture(params=[False, True], ids=["read-then-clear", "clear-then-read"])
def handler(regs: RegisterFile, request: pytest.FixtureRequest) -> LinkHandler:
    return LinkHandler(regs, clear_first=request.param)


@pytest.fixture
def driver(tmp_path: Path, handler: LinkHandler) -> Iterator[FakeDriver]:
    with FakeDriver(tmp_path / "mock", handler) as driver:
        yield driver


@pytest.fixture
def nic(tmp_path: Path, regs: RegisterFile) -> Iterator[Rtl8111]:
    with InterruptLine(tmp_path / "mock") as line:
        yield Rtl8111(regs, line, ack_timeout=2, resend_interval=0.02)


def test_link_up_is_delivered_and_acknowledged(
    nic: Rtl8111, regs: RegisterFile, handler: LinkHandler, driver: FakeDriver
) -> None:
    elapsed = nic.link_up()
    assert handler.seen == [UP_1000_FULL]  # the driver read the new state in its handler
    assert regs.read_field("IntrStatus.LinkChg") == 0
    assert nic.link_state() == LinkState(up=True, speed=1000, full_duplex=True)
    assert 0 <= elapsed < 1


def test_link_down_clears_speed_and_duplex(
    nic: Rtl8111, regs: RegisterFile, handler: LinkHandler, driver: FakeDriver
) -> None:
    nic.link_up()
    nic.link_down()
    assert handler.seen == [UP_1000_FULL, 0]
    assert nic.link_state() == LinkState(up=False, speed=None, full_duplex=False)
    assert str(nic.link_state()) == "link DOWN"


@pytest.mark.parametrize(
    ("speed", "full", "status"),
    [
        (100, True, PhyStatus.LinkStatus | PhyStatus._100bps | PhyStatus.FullDup),
        (100, False, PhyStatus.LinkStatus | PhyStatus._100bps),
        (10, False, PhyStatus.LinkStatus | PhyStatus._10bps),
    ],
)
def test_link_up_speeds(
    nic: Rtl8111, handler: LinkHandler, driver: FakeDriver, speed: int, full: bool, status: int
) -> None:
    nic.link_up(speed, full_duplex=full)
    assert handler.seen == [status]
    assert nic.link_state() == LinkState(True, speed, full)


def test_link_change_keeps_unrelated_phy_bits(
    nic: Rtl8111, regs: RegisterFile, driver: FakeDriver
) -> None:
    regs.write("PHYstatus", PhyStatus.TxFlowCtrl | PhyStatus.RxFlowCtrl)
    nic.link_up(100)
    nic.link_down()
    assert regs.read("PHYstatus") == PhyStatus.TxFlowCtrl | PhyStatus.RxFlowCtrl


def test_bad_speeds_are_refused(nic: Rtl8111) -> None:
    with pytest.raises(SimulatorError, match="10, 100 or 1000"):
        nic.link_up(42)
    with pytest.raises(SimulatorError, match="full duplex only"):
        nic.link_up(1000, full_duplex=False)


def test_toggle_flips_and_reports_the_new_state(
    nic: Rtl8111, handler: LinkHandler, driver: FakeDriver
) -> None:
    assert nic.toggle() is True
    assert nic.toggle() is False
    assert nic.toggle() is True
    assert handler.seen == [UP_1000_FULL, 0, UP_1000_FULL]


def test_masked_link_interrupt_is_an_error_and_changes_nothing(
    nic: Rtl8111, regs: RegisterFile
) -> None:
    regs.clear_bits("IntrMask", Intr.LinkChg)
    with pytest.raises(
        SimulatorError,
        match=r"^the driver has not enabled the link-change interrupt \(IntrMask bit 5\): is it",
    ):
        nic.link_up()
    assert regs.read("PHYstatus") == 0
    assert regs.read("IntrStatus") == 0


def test_unacknowledged_link_change_times_out(tmp_path: Path, regs: RegisterFile) -> None:
    # A socket nobody handles: the driver is "loaded" but its handler never runs.
    with FakeDriver(tmp_path / "mock", lambda: None), InterruptLine(tmp_path / "mock") as line:
        nic = Rtl8111(regs, line, ack_timeout=0.1, resend_interval=0.02)
        with pytest.raises(AckTimeout, match=r"interrupt LinkChg \(IntrStatus bit 5\) on .*0.1s"):
            nic.link_up()


def test_without_an_interrupt_line_the_link_cannot_change(regs: RegisterFile) -> None:
    nic = Rtl8111(regs, None)
    assert nic.link_state().up is False
    with pytest.raises(SimulatorError, match="no interrupt line"):
        nic.link_up()


def test_fast_flap_delivers_the_final_state(
    nic: Rtl8111, regs: RegisterFile, handler: LinkHandler, driver: FakeDriver
) -> None:
    handler.delay = 0.002  # a guest slower than the flapping: changes coalesce
    result = nic.flap(201, 0)
    assert result.changes == 201
    assert result.up is True  # from down, an odd number of changes
    assert nic.link_state().up is True
    assert regs.read_field("IntrStatus.LinkChg") == 0  # the last change was acknowledged
    assert handler.seen[-1] == UP_1000_FULL  # and the driver read the final state
    assert 1 <= len(handler.seen) < 201  # coalesced: fewer interrupts handled than changes


def test_change_over_a_pending_one_is_raised_again(
    nic: Rtl8111, regs: RegisterFile, handler: LinkHandler, driver: FakeDriver
) -> None:
    # LinkChg left pending (say by a handler that read PHYstatus a moment
    # before this change): its acknowledgement would cover the old state, so
    # the model raises LinkChg once more after it.
    regs.set_bits("IntrStatus", Intr.LinkChg)
    nic.link_up()
    assert handler.seen == [UP_1000_FULL, UP_1000_FULL]
    assert regs.read_field("IntrStatus.LinkChg") == 0


def test_single_change_raises_once(nic: Rtl8111, handler: LinkHandler, driver: FakeDriver) -> None:
    nic.link_up()
    assert handler.seen == [UP_1000_FULL]
    assert driver.datagrams == 1


def test_software_interrupt_round_trip(
    nic: Rtl8111, regs: RegisterFile, handler: LinkHandler, driver: FakeDriver
) -> None:
    for _ in range(50):
        assert nic.software_interrupt() < 1
    assert handler.swints == 50
    assert handler.seen == []
    assert regs.read("IntrStatus") == 0
    regs.clear_bits("IntrMask", Intr.SWInt)
    with pytest.raises(
        SimulatorError, match=r"has not enabled the SWInt interrupt \(IntrMask bit 8\)"
    ):
        nic.software_interrupt()


def test_slow_flap_delivers_every_state(
    nic: Rtl8111, handler: LinkHandler, driver: FakeDriver
) -> None:
    nic.link_up()
    result = nic.flap(4, 0.01)
    assert result.up is True
    assert handler.seen == [UP_1000_FULL, 0, UP_1000_FULL, 0, UP_1000_FULL]
    assert result.seconds >= 4 * 0.01


def test_reset_sets_a_realtek_mac_only_when_there_is_none(nic: Rtl8111) -> None:
    assert nic.reset() == DEFAULT_MAC
    assert DEFAULT_MAC.startswith(bytes.fromhex("00e04c"))
    nic.set_mac(bytes.fromhex("020000000001"))
    assert nic.reset() == bytes.fromhex("020000000001")
    assert nic.mac() == bytes.fromhex("020000000001")


def test_set_mac_needs_six_bytes(nic: Rtl8111) -> None:
    with pytest.raises(SimulatorError, match="6 bytes, not 5"):
        nic.set_mac(b"\x00" * 5)


def test_the_chip_answers_the_driver_s_accesses_on_any_register_file(regs: RegisterFile) -> None:
    # r8169's accesses, as the PCI BAR passes them on: the same hooks would
    # serve any transport that carries accesses to the model.
    nic = Rtl8111(regs, None)
    nic.power_on(link=False)
    regs.bus_write(0x40, struct.pack("<I", 0x03000700))  # TxConfig: the XID stays
    assert regs.read("TxConfig") == XID << 20 | 0x03000700
    regs.write("IntrStatus", Intr.LinkChg | Intr.TxOK)
    regs.bus_write(0x3E, struct.pack("<H", Intr.TxOK))  # write 1 to clear
    assert regs.read("IntrStatus") == Intr.LinkChg
    regs.bus_write(0x6C, b"\xff")  # PHYstatus is read-only
    assert nic.link_state().up is False
    with pytest.raises(SimulatorError, match="no DMA on this transport"):
        regs.bus_write(0x38, b"\x40")  # TxPoll: transmitting takes DMA
