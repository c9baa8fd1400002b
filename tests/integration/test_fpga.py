"""Two simulated FPGAs, uh_fpga and fpga_reader end to end: real UML, real driver, real simulator.

The simulator runs on the host (`python -m simulators fpga ...`, the `sim`
of this checkout) while fpga_reader runs in the guest and prints one
summary line per device, which the tests parse.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulators.fpga import icd
from simulators.fpga.device import open_fpga
from simulators.fpga.doorbell import in_use
from simulators.fpga.model import Fpga
from umlharness import Instance

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TWO_FPGAS = ["fpga0:4M", "fpga1:4M"]
SUMMARY = re.compile(r"^(fpga\d) ((?:\w+=\S+ ?)+)$", re.M)


def summaries(output: str) -> dict[str, dict[str, str]]:
    """fpga_reader's (or the simulator's) summary lines, by device: {'fpga0': {'lost': '0'...}}."""
    return {
        name: dict(pair.split("=", 1) for pair in fields.split())
        for name, fields in SUMMARY.findall(output)
    }


def numbers(summary: dict[str, str], *keys: str) -> tuple[int, ...]:
    return tuple(int(summary[key]) for key in keys)


def sim(vm: Instance, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulators", "fpga", *args, "--umid", vm.umid],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


class Simulator:
    """`sim fpga ARGS` running on the host while the test works in the guest."""

    def __init__(self, vm: Instance, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators", "fpga", *args, "--umid", vm.umid],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )

    def finish(self, timeout: float = 30, stop: bool = False) -> dict[str, str]:
        """Its summary, once it has exited (after SIGTERM if `stop`)."""
        if stop:
            self.process.send_signal(signal.SIGTERM)
        code, stdout, stderr = self.exit(timeout)
        assert code == 0, stderr
        (summary,) = summaries(stdout).values()
        return summary

    def exit(self, timeout: float = 30) -> tuple[int, str, str]:
        """Its exit status, stdout and stderr; still running after `timeout` s fails the test."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        finally:
            self.process.kill()
        return self.process.returncode, stdout, stderr


@pytest.fixture
def in_background() -> Iterator[Callable[[Callable[[], None]], threading.Thread]]:
    """Run functions in threads; their exceptions fail the test at the end."""
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def start(target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.mark.uml(iomem=TWO_FPGAS)
def test_100k_reports_per_fpga_reach_user_space_intact(uml: Instance) -> None:
    # Both interleave a STATUS report every 1000: 100100 reports each.
    small = Simulator(
        uml, "stream", "--fpga", "0", "--rate", "0", "--count", "100000", "--status-period", "1000"
    )
    large = Simulator(
        uml,
        "stream",
        "--fpga", "1", "--rate", "0", "--count", "100000",
        "--type", "event", "--size", "1000", "--status-period", "1000",
    )  # fmt: skip
    result = uml.run(
        "fpga_reader --dev /dev/fpga0 --dev /dev/fpga1 --count 100100 --idle 20", timeout=180
    )
    assert result.exit_code == 0, result.output
    sent = {"fpga0": small.finish(), "fpga1": large.finish()}
    got = summaries(result.output)
    for name in ("fpga0", "fpga1"):
        assert numbers(got[name], "lost", "dup", "crc_errors", "malformed", "overflows") == (
            0,
            0,
            0,
            0,
            0,
        ), result.output
        assert numbers(sent[name], "streamed", "dropped") == (100000, 0)
        # Every report written reached user space, and nothing else did.
        assert got[name]["reports"] == sent[name]["written"]
        assert got[name]["bytes"] == sent[name]["bytes"]
        assert int(got[name]["reports"]) == 100000 + 100
    assert int(got["fpga0"]["bytes"]) == 100000 * 64 + 100 * 60
    assert int(got["fpga1"]["bytes"]) == 100000 * 1000 + 100 * 60
    assert uml.check("cat /sys/class/fpga/fpga1/reports").strip() == got["fpga1"]["reports"]


@pytest.mark.uml(iomem=TWO_FPGAS)
def test_commands_round_trip(uml: Instance) -> None:
    servers = [Simulator(uml, "serve", "--fpga", str(i)) for i in (0, 1)]
    result = uml.run(
        "fpga_reader --dev /dev/fpga0 --dev /dev/fpga1 --cmd rate=1234 --cmd raw=99 "
        "--echo 'hello fpga' --count 2 --idle 10",
        timeout=60,
    )
    assert result.exit_code == 0, result.output
    for name, summary in summaries(result.output).items():
        assert summary["echo"] == "ok", name
        # The unknown opcode 99 came back as an EVENT report, the echo as an ECHO.
        assert numbers(summary, "reports", "events", "lost", "crc_errors") == (2, 1, 0, 0)
    status = sim(uml, "status", "--fpga", "1")
    assert "rate 1234 reports/s" in status.stdout
    assert "commands consumed 3, rejected 1" in status.stdout
    assert "STATUS ERROR" in status.stdout

    rtt = uml.run("fpga_reader --dev /dev/fpga0 --rtt 200", timeout=60)
    assert rtt.exit_code == 0, rtt.output
    match = re.search(r"fpga0 rtt_us median=([\d.]+) p99=([\d.]+) .* n=200", rtt.output)
    assert match and float(match[1]) < 50_000, rtt.output
    for server in servers:
        assert int(server.finish(stop=True)["command_errors"]) == 1


@pytest.mark.uml(iomem=["fpga0:4M"])
def test_a_command_waits_in_the_ring_until_a_simulator_starts(
    uml: Instance, in_background: Callable[[Callable[[], None]], threading.Thread]
) -> None:
    done = threading.Event()

    def late_simulator() -> None:
        time.sleep(2)
        with open_fpga(0, umid=uml.umid) as device:
            device.run(stream=False, duration=30, stop=done)

    in_background(late_simulator)
    result = uml.run(
        "fpga_reader --dev /dev/fpga0 --echo early --count 1 --idle 20 && "
        "cat /sys/class/fpga/fpga0/doorbell_misses /sys/class/fpga/fpga0/commands",
        timeout=60,
    )
    done.set()
    assert result.exit_code == 0, result.output
    assert summaries(result.output)["fpga0"]["echo"] == "ok"
    assert result.output.split()[-2:] == ["1", "1"]  # the doorbell rang nobody; one command


@pytest.mark.uml(iomem=["fpga0:4M"])
def test_overflow_is_counted_and_reported(uml: Instance) -> None:
    # 100000 reports at 50000/s; the reader stalls 1.5 s after 1000 of them, the
    # 2 MiB ring (32768 reports) fills in 0.65 s, and the device drops the rest.
    stream = Simulator(uml, "stream", "--rate", "50000", "--count", "100000")
    result = uml.run(
        "fpga_reader --dev /dev/fpga0 --count 100000 --pause-after 1000 --pause 1.5 --idle 3",
        timeout=60,
    )
    sent = stream.finish()
    got = summaries(result.output)["fpga0"]
    dropped = int(sent["dropped"])
    assert dropped > 10000, sent
    assert result.exit_code == 1, result.output  # fewer than --count arrived
    # Nothing lost silently: every drop is a sequence gap, counted by the device,
    # shown by the driver, and the first report after the drops is flagged.
    assert numbers(got, "lost", "overflows", "reports") == (
        dropped,
        dropped,
        100000 - dropped,
    )
    assert numbers(got, "dup", "crc_errors", "flagged") == (0, 0, 1)
    assert f"dropped {dropped}," in sim(uml, "status").stdout
    assert "report ring full" in uml.kernel_log


def crafted(tmp_path: Path) -> dict[str, Path]:
    """Malformed report files (and one with only a bad CRC) for `sim fpga inject`."""
    echo = icd.echo_payload(7, b"crafted")
    cases = {
        "bad_magic": icd.build_report(icd.ReportType.ECHO, 0, echo, magic=0x0BADF00D),
        "bad_version": icd.build_report(icd.ReportType.ECHO, 0, echo, version=9),
        "too_long": icd.build_report(icd.ReportType.ECHO, 0, echo, payload_len=5000),
        "too_short": icd.build_report(icd.ReportType.ECHO, 0, echo, payload_len=4),
        "garbage": bytes(range(256)) * 4,
        "bad_crc": icd.build_report(icd.ReportType.ECHO, 0, echo, crc=0x12345678),
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / f"{name}.bin"
        paths[name].write_bytes(data)
    return paths


@pytest.mark.uml(iomem=["fpga0:4M"])
def test_malformed_reports_are_counted_and_dropped(
    uml: Instance, tmp_path: Path, in_background: Callable[[Callable[[], None]], threading.Thread]
) -> None:
    files = crafted(tmp_path)

    def device_side() -> None:
        Simulator(uml, "stream", "--rate", "0", "--count", "1000").finish()
        for path in files.values():
            injected = sim(uml, "inject", str(path), "--wait")
            assert injected.returncode == 0, injected.stderr
        Simulator(uml, "stream", "--rate", "0", "--count", "1000").finish()

    in_background(device_side)
    result = uml.run("fpga_reader --dev /dev/fpga0 --count 2001 --idle 30", timeout=120)
    got = summaries(result.output)["fpga0"]
    # 2000 good reports and the bad-CRC one, which the driver cannot tell from a
    # good one; the five malformed injections were skipped, one event each.
    assert numbers(got, "reports", "lost", "dup", "crc_errors", "malformed") == (
        2001,
        0,
        0,
        1,
        5,
    ), result.output
    assert result.exit_code == 3  # a CRC error is a data error
    again = Simulator(uml, "stream", "--rate", "0", "--count", "100")
    after = uml.run("fpga_reader --dev /dev/fpga0 --count 100", timeout=60)
    again.finish()
    assert after.exit_code == 0, after.output


def hammer(device: Fpga, stop: threading.Event) -> None:
    """Stream as fast as the reader reads; with no reader, keep raising interrupts anyway."""
    device.config.rate = 0
    device.start_stream(True)
    while not stop.is_set():
        device.step()
        if not device.enabled:
            device.emit(icd.ReportType.EVENT, icd.event_payload(icd.EventCode.TICK, "x"))
        time.sleep(0.0002)


@pytest.mark.uml(iomem=["fpga0:4M"])
def test_rmmod_while_streaming_is_safe_and_reload_works(
    uml: Instance, in_background: Callable[[Callable[[], None]], threading.Thread]
) -> None:
    stop = threading.Event()
    with open_fpga(0, umid=uml.umid) as device:
        hammering = in_background(lambda: hammer(device, stop))
        try:
            uml.check(
                "fpga_reader --dev /dev/fpga0 --count 1000000000 --idle 60 >/tmp/r 2>&1 & "
                "echo $! >/tmp/pid"
            )
            uml.check("sleep 1")
            busy = uml.run("rmmod uh_fpga", timeout=30)
            # A reader holds the device, so the module: busybox's rmmod says EAGAIN.
            assert busy.exit_code != 0, busy.output
            refcount = "awk '$1 == \"uh_fpga\" { print $3 }' /proc/modules"
            assert uml.check(refcount).strip() != "0"
            cycles = uml.run(
                "pid=$(cat /tmp/pid); kill $pid; while kill -0 $pid 2>/dev/null; do :; done; "
                "for i in $(seq 10); do rmmod uh_fpga && modprobe uh_fpga || exit 1; done",
                timeout=120,
            )
            assert cycles.exit_code == 0, cycles.output
            assert "fpga0 reports=" in uml.check("cat /tmp/r")
            after = uml.run("fpga_reader --dev /dev/fpga0 --count 20000 --idle 20", timeout=60)
        finally:
            stop.set()
            # Before the device closes: a send on its closed line would fail the thread.
            hammering.join(timeout=10)
    assert after.exit_code == 0, after.output
    got = summaries(after.output)["fpga0"]
    assert numbers(got, "lost", "dup", "crc_errors", "malformed") == (0, 0, 0, 0)
    loads = re.findall(r"uh_fpga: fpga0: report ring \d+ bytes", uml.kernel_log)
    assert len(loads) == 11  # at boot, then 10 reloads


# --- one side goes away ---------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout:g}s"
        time.sleep(0.05)


def kill_guest(vm: Instance) -> float:
    """SIGKILL the guest's whole UML process group, as a crash would; when that was."""
    assert vm.pid is not None
    os.killpg(vm.pid, signal.SIGKILL)
    return time.monotonic()


def ring_used(vm: Instance) -> int:
    """Bytes in fpga0's report ring that the driver has not consumed."""
    with open_fpga(0, umid=vm.umid, doorbell=False) as device:
        ring = device.report_ring()
        return ring.used() if ring is not None else 0


def produced(vm: Instance) -> int:
    """Reports fpga0 has written (read from the host: the console may be busy)."""
    with open_fpga(0, umid=vm.umid, doorbell=False) as device:
        return device.regs.read("REPORTS_PRODUCED")


STREAM_FOR_EVER = ("stream", "--rate", "20000", "--count", "1000000000")


@pytest.mark.uml(iomem=["fpga0:4M"])
@pytest.mark.parametrize(
    "what", ["stream waiting for a reader", "stream while read", "serve", "inject --wait"]
)
def test_a_simulator_stops_when_its_guest_is_killed(
    uml: Instance, tmp_path: Path, what: str
) -> None:
    if what == "inject --wait":
        report = tmp_path / "report.bin"
        report.write_bytes(icd.build_report(icd.ReportType.ECHO, 0, icd.echo_payload(1, b"x")))
        # Nobody reads /dev/fpga0, so the bytes stay in the ring and inject waits.
        simulator = Simulator(uml, "inject", str(report), "--wait", "--timeout", "120")
        wait_until(lambda: ring_used(uml) > 0, "injected bytes")
    else:
        simulator = Simulator(uml, *(["serve"] if what == "serve" else STREAM_FOR_EVER))
        wait_until(lambda: in_use(uml.umid_dir / "fpga0-doorbell"), "simulator")
    if what == "stream while read":
        uml.check("fpga_reader --dev /dev/fpga0 --count 1000000000 --idle 120 >/dev/null &")
        wait_until(lambda: produced(uml) > 0, "reports")
    killed = kill_guest(uml)
    code, _, stderr = simulator.exit(timeout=60)
    took = time.monotonic() - killed
    assert code == 2, stderr
    assert stderr.startswith(
        f"sim: error: instance {uml.umid} is gone (its UML process exited); "
    ), stderr
    assert len(stderr.splitlines()) == 1
    assert took < 10, f"{took:.1f}s"  # about a second; the rest is room for a slow host
    if what == "stream while read":
        streamed = re.search(r"fpga0 stopped after (\d+) reports", stderr)
        assert streamed and int(streamed[1]) > 0, stderr


@pytest.mark.uml(iomem=["fpga0:4M"])
def test_a_reader_learns_that_its_simulator_died(
    uml: Instance, in_background: Callable[[Callable[[], None]], threading.Thread]
) -> None:
    doorbell = uml.umid_dir / "fpga0-doorbell"

    def start_then_kill() -> None:
        time.sleep(1)  # the reader starts first: no simulator yet is not a dead one
        simulator = Simulator(uml, *STREAM_FOR_EVER)
        wait_until(lambda: produced(uml) > 1000, "reports")
        simulator.process.kill()  # SIGKILL: it cannot say goodbye

    in_background(start_then_kill)
    started = time.monotonic()
    result = uml.run(
        "fpga_reader --dev /dev/fpga0 --count 1000000000 --idle 100 --timeout 100", timeout=150
    )
    took = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert re.fullmatch(
        r"fpga_reader: /dev/fpga0: the simulator died, after [1-9]\d* reports\s*", result.output
    ), result.output
    assert took < 60, f"{took:.1f}s"  # its timeout is 100 s; this is about 1 s after the kill
    assert "uh_fpga: fpga0: the simulator died" in uml.kernel_log
    # Its doorbell is left behind, refusing; the next simulator takes over.
    assert doorbell.exists() and not in_use(doorbell)
    again = Simulator(uml, "stream", "--rate", "0", "--count", "100")
    after = uml.run("fpga_reader --dev /dev/fpga0 --count 100 --idle 20", timeout=60)
    again.finish()
    assert after.exit_code == 0, after.output
