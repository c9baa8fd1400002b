"""PCI plumbing around the models: specs, slots, traces, the control socket."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from simulators.errors import SimulatorError
from simulators.pci.__main__ import main as backend_main
from simulators.pci.control import ControlServer, RemoteModel
from simulators.pci.models import make_model, parse_spec
from simulators.pci.trace import TraceWriter, read_trace, show
from umlharness.errors import HarnessError
from umlharness.pci import MAX_DEVICES, PciSpec, plan_backends
from umlharness_shared.handshake import FAILED


def test_specs_parse_and_are_checked_before_boot() -> None:
    assert parse_spec("rtl8111, mac=02:00:00:00:00:01 ,link=down") == (
        "rtl8111",
        {"mac": "02:00:00:00:00:01", "link": "down"},
    )
    spec = PciSpec.parse("pcitest,irq=msi")
    assert str(spec) == "pcitest,irq=msi"
    for text, message in (
        ("e1000", "no PCI model 'e1000'"),
        ("rtl8111,speed", "'speed' is not key=value"),
        ("pcitest,vectors=2", "unknown option vectors (options: irq)"),
    ):
        with pytest.raises(HarnessError, match=re.escape(message)):
            PciSpec.parse(text)


def test_option_values_are_checked_by_the_model_in_its_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    PciSpec.parse("pcitest,irq=intx")  # the harness checks names, not values
    status = backend_main(["--model", "pcitest,irq=intx", "--socket", str(tmp_path / "s")])
    assert status == 2
    assert capsys.readouterr().out.startswith(f"{FAILED} ")


def test_slots_and_trace_files(tmp_path: Path) -> None:
    specs = [PciSpec.parse("rtl8111"), PciSpec.parse("pcitest")]
    first, second = plan_backends(specs, tmp_path, tmp_path / "t.jsonl")
    assert (first.slot, second.slot) == ("pci0", "pci1")
    assert (first.trace, second.trace) == (tmp_path / "t.jsonl", tmp_path / "t.jsonl.pci1")
    assert first.kernel_arg == f"virtio_uml.device={tmp_path}/pci0.sock:1234"
    with pytest.raises(HarnessError, match="up to 8"):
        plan_backends(specs * 5, tmp_path, None)
    assert len(plan_backends(specs * (MAX_DEVICES // 2), tmp_path, None)) == MAX_DEVICES


def test_trace_round_trip_names_registers(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with TraceWriter(path, "rtl8111", {"link": "up"}, "pci0") as trace:
        trace.record("CFG_READ", 0, 0, 4, bytes.fromhex("ec106881"))
        trace.record("MMIO_WRITE", 2, 0x3E, 2, bytes.fromhex("2100"))
        trace.record("MMIO_READ", 2, 0x6C, 1, bytes.fromhex("13"))
        trace.interrupt(bytes(16) + bytes.fromhex("4100"))
    lines = list(show(path, make_model))
    assert lines[0] == "# pci0: rtl8111 10ec:8168"
    assert lines[1].endswith("CFG_READ    cfg 0x000 VendorID+DeviceID -> 0x816810ec")
    assert lines[2].endswith("MMIO_WRITE  bar2 0x003e IntrStatus[LinkChg|RxOK] <- 0x0021")
    assert "PHYstatus[_1000bpsF|LinkStatus|FullDup] -> 0x13" in lines[3]
    assert lines[4].endswith("MSI            data 0x41")


def test_bad_traces_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="cannot read trace"):
        read_trace(tmp_path / "missing")
    (tmp_path / "other").write_text('{"hello": 1}\n')
    with pytest.raises(SimulatorError, match="not a umlharness PCI trace"):
        read_trace(tmp_path / "other")
    truncated = tmp_path / "cut"
    truncated.write_text(json.dumps({"trace": 1, "model": "pcitest"}) + '\n{"t": 1, "op"')
    _, events = read_trace(truncated)
    with pytest.raises(SimulatorError, match="cut:2: not a trace event"):
        list(events)


class Target:
    def __init__(self) -> None:
        self.value = 1

    def add(self, amount: int) -> int:
        self.value += amount
        return self.value

    def fail(self) -> None:
        raise SimulatorError("the model says no")

    def wedge(self) -> None:
        time.sleep(2)


def test_control_calls_reach_the_model_and_errors_come_back(tmp_path: Path) -> None:
    target = Target()
    path = tmp_path / "ctl"
    with ControlServer(path, lambda: target), RemoteModel(path) as remote:
        assert remote.add(2) == 3
        assert remote.call("add", amount=4) == 7
        with pytest.raises(SimulatorError, match="the model says no"):
            remote.fail()
        with pytest.raises(SimulatorError, match="no 'nothing'"):
            remote.nothing()
        with pytest.raises(SimulatorError, match="not a method"):
            remote.value()
        with pytest.raises(SimulatorError, match="private"):
            remote.call("__class__")
    assert target.value == 7


def test_a_backend_that_does_not_answer_fails_the_call_in_time(tmp_path: Path) -> None:
    path = tmp_path / "ctl"
    with ControlServer(path, Target), RemoteModel(path, timeout=0.2) as remote:
        started = time.monotonic()
        with pytest.raises(SimulatorError, match=r"did not answer wedge\(\) within 0.2s"):
            remote.wedge()
        assert time.monotonic() - started < 1.5
        assert remote.add(1) == 2  # a new connection, not the stale answer
        # The late answer goes to a client that stopped waiting: the server lets it go.
        failures: list[threading.ExceptHookArgs] = []
        previous, threading.excepthook = threading.excepthook, failures.append
        try:
            time.sleep(2.2)
        finally:
            threading.excepthook = previous
        assert not failures


def test_no_backend_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="no PCI backend listens"):
        RemoteModel(tmp_path / "gone").add(1)


def test_your_own_model_by_import_path() -> None:
    model = make_model("simulators.pcitest.model:PciTest", {"irq": "msi"})
    assert model.name == "pcitest" and model.options() == {"irq": "msi"}
    with pytest.raises(SimulatorError, match="not a PciFunction subclass"):
        make_model("os:path", {})
    with pytest.raises(SimulatorError, match="cannot import it"):
        make_model("no_such_package.models:Device", {})
