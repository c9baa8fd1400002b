"""A model's exceptions outside its callers (hooks, threads) and strict mode, over iomem."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pytest

from simulators.cli import _traceback
from simulators.devices import Device
from simulators.errors import ModelError, UnmappedAccess
from simulators.handle import open_model
from simulators.pci.backend import Backend
from simulators.pci.bars import RegisterBar
from simulators.pci.models import backend_options, model_class
from simulators.pcitest.model import PciTest
from simulators.regfile import RegisterFile
from simulators.thermo.model import Thermo
from simulators.thermo.regs import THERMO
from umlharness_shared.cli import run_cli
from umlharness_shared.handshake import MODEL_ERROR

from .faulty_model import FaultyThermo

FAULTY = Device(name="faulty", title="THERMO", layout=THERMO, model=FaultyThermo, region="thermo")
PLAIN = Device(name="thermo", title="THERMO", layout=THERMO, model=Thermo)


@pytest.fixture
def iomem(tmp_path: Path) -> Path:
    path = tmp_path / "iomem-thermo"
    path.write_bytes(bytes(4096))
    return path


def driver_view(iomem: Path) -> RegisterFile:
    """The driver's own mapping of the region, as the guest has it."""
    return RegisterFile(THERMO, np.memmap(iomem, np.uint8, mode="r+"))


def wait_for(condition: Callable[[], object], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_an_exception_in_a_model_thread_is_raised_at_the_next_check(iomem: Path) -> None:
    handle = open_model(FAULTY, iomem=iomem)
    driver_view(iomem).write("THRESHOLD", 5000)  # what the guest's driver does
    wait_for(lambda: handle.faults)
    with pytest.raises(ModelError) as caught:
        handle.check()
    error = caught.value
    assert str(error) == (
        "the THERMO model raised ZeroDivisionError in its thread 'threshold-watch': "
        "integer division or modulo by zero"
    )
    assert isinstance(error.__cause__, ZeroDivisionError)  # pytest shows its traceback
    assert "in _threshold_written" in error.traceback
    handle.close()  # reported once: nothing left for close


def test_close_raises_what_no_check_did(iomem: Path) -> None:
    handle = open_model(FAULTY, iomem=iomem)
    driver_view(iomem).write("THRESHOLD", 5000)
    wait_for(lambda: handle.faults)
    with pytest.raises(ModelError, match="ZeroDivisionError in its thread"):
        handle.close()


def test_explain_checks_on_the_way_out(iomem: Path) -> None:
    handle = open_model(FAULTY, iomem=iomem)
    with pytest.raises(ModelError), handle, handle.explain():
        driver_view(iomem).write("THRESHOLD", 5000)
        wait_for(lambda: handle.faults)


def test_a_hook_run_by_a_host_side_access_is_the_models_error(iomem: Path) -> None:
    """A stand-in for the driver (a thread of a test) gets no Python exception from the
    device, as a guest's access would not; the model's handle raises it."""
    handle = open_model(FAULTY, iomem=iomem)
    regs = handle.model.regs
    handle.model.stop_threads()  # only the hook, here
    errors: list[BaseException] = []

    def stand_in() -> None:
        try:
            for _ in range(3):
                regs.bus_write(regs.offset("THRESHOLD"), (7000).to_bytes(2, "little"))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=stand_in)
    thread.start()
    thread.join()
    assert errors == []
    assert regs.read("THRESHOLD") == 7000  # the access completed as a plain store
    with pytest.raises(ModelError) as caught:
        handle.close()
    assert str(caught.value) == (
        "the THERMO model raised ZeroDivisionError in its write hook on THRESHOLD: "
        "integer division or modulo by zero (and 2 more errors after it)"
    )


def test_sim_prints_the_model_error_and_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    @click.command()
    def failing() -> None:
        try:
            1 // 0  # noqa: B018
        except ZeroDivisionError as error:
            raise ModelError("THERMO", error, "in its thread 'x'") from error

    with pytest.raises(SystemExit) as exited:
        run_cli(failing, "sim", [], details=_traceback)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sim: error: the THERMO model raised ZeroDivisionError in its thread")
    assert "Traceback (most recent call last)" in err and "1 // 0" in err


# --- strict mode --------------------------------------------------------------------


def test_strict_iomem_fails_a_write_outside_the_map(iomem: Path) -> None:
    handle = open_model(PLAIN, iomem=iomem, strict=True)
    guest = np.memmap(iomem, np.uint8, mode="r+")
    guest[0x06] = 1  # the Padding after STATUS
    guest[0x40:0x44] = 0xFF  # past the 0x40-byte map
    driver_view(iomem).write("THRESHOLD", 5000)  # a register: fine
    with pytest.raises(UnmappedAccess) as caught:
        handle.close()
    assert "(0x6, 0x40-0x43)" in str(caught.value)
    assert "strict mode" in str(caught.value)


def test_without_strict_a_write_outside_the_map_passes(iomem: Path) -> None:
    handle = open_model(PLAIN, iomem=iomem)
    np.memmap(iomem, np.uint8, mode="r+")[0x40] = 1
    handle.close()


def test_strict_iomem_passes_register_writes(iomem: Path) -> None:
    with open_model(PLAIN, iomem=iomem, strict=True) as handle:
        driver_view(iomem).write("CTRL", 3)
        handle.model.regs.write("TEMP", 2500)


def test_registers_at_and_around_the_map() -> None:
    regs = RegisterFile(THERMO, np.zeros(0x100, np.uint8))
    assert not regs.unmapped(0x04, 2)  # CTRL, STATUS
    assert regs.unmapped(0x04, 4)  # and the Padding after them
    assert regs.unmapped(0x3E, 4)  # past the end
    assert regs.unmapped(-1, 1)


def test_the_strict_option_is_the_backends() -> None:
    assert backend_options({"irq": "msi", "strict": "1"}) == ({"irq": "msi"}, True)
    assert backend_options({}) == ({}, False)
    model_class("pcitest", {"strict": "on"})  # every model takes it
    with pytest.raises(Exception, match="strict=maybe: give 1 or 0"):
        backend_options({"strict": "maybe"})


def test_a_strict_backend_logs_accesses_outside_the_map_as_model_errors(tmp_path: Path) -> None:
    function = PciTest()
    lines: list[str] = []
    with Backend(function, tmp_path / "pci.sock", log=lines.append, strict=True):
        bar = function.bars[0]
        assert isinstance(bar, RegisterBar)
        assert function.mmio_read(0, 0x0C, 4) == bytes(4)  # SCRATCH32
        function.mmio_write(0, 0x100, b"\x01\x02")  # the window: Padding
        function.mmio_write(0, 0x100, b"\x01\x02")  # the same again: logged once
        assert function.mmio_read(0, 0x100, 2) == b"\x01\x02"  # carried out all the same
    assert lines == [
        f"{MODEL_ERROR} strict mode: the driver wrote 2 bytes at BAR0 0x100, "
        "where no register of pcitest's map is",
        f"{MODEL_ERROR} strict mode: the driver read 2 bytes at BAR0 0x100, "
        "where no register of pcitest's map is",
    ]


def test_a_backend_without_strict_logs_nothing(tmp_path: Path) -> None:
    function = PciTest()
    lines: list[str] = []
    with Backend(function, tmp_path / "pci.sock", log=lines.append):
        function.mmio_write(0, 0x100, b"\x01")
    assert lines == []
