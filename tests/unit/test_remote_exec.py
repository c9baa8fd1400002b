"""`umlharness exec` without UML: the server around a fake guest, the client, the refusals."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from umlharness import remote_exec
from umlharness.errors import BootTimeout, GuestCrashed, GuestError, HarnessError
from umlharness.remote_exec import ExecServer, command_line, run_remote
from umlharness.shell import RunResult
from umlharness_shared import registry

from .conftest import GuestRecorder


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    return tmp_path / "run"


class FakeGuest:
    """What ExecServer uses of an Instance; `run` does what the test says."""

    def __init__(self, directory: Path, umid: str) -> None:
        self.dir = directory
        self.umid = umid
        self.alive = True
        self.commands: list[str] = []
        self.pumping = threading.Event()
        self._read, self._write = os.pipe()  # a console that never speaks

    def run(self, command: str, timeout: float | None = None) -> RunResult:
        self.commands.append(command)
        if command == "crash":
            self.alive = False
            raise GuestCrashed("oops", "Oops: 0000 [#1]\nCall Trace: ...")
        if command == "hang":
            raise BootTimeout(f"run {command!r}: no answer within {timeout:.3g}s")
        return RunResult(command, 3, f"ran {command}\n")

    def pump(self, timeout: float = 0.0) -> bool:
        self.pumping.set()
        return self.alive

    def console_fileno(self) -> int:
        return self._read

    def interrupt(self, timeout: float = 5.0) -> None:
        self.commands.append("^C")

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


@pytest.fixture
def served(recorded_guest: GuestRecorder, tmp_path: Path) -> Iterator[tuple[FakeGuest, ExecServer]]:
    guest = FakeGuest(recorded_guest("t1", tmp_path / "u1"), "t1")
    server = ExecServer(guest)  # type: ignore[arg-type]
    server.start()
    yield guest, server
    server.stop(timeout=5)
    guest.close()


def test_a_command_runs_through_the_owner(served: tuple[FakeGuest, ExecServer]) -> None:
    guest, _ = served
    assert (guest.dir / registry.EXEC_SOCKET).stat().st_mode & 0o777 == 0o600
    result = run_remote(None, "echo hi", timeout=5)
    assert (result.exit_code, result.output) == (3, "ran echo hi\n")
    assert registry.find("t1").console == registry.CONSOLE_EXEC
    assert guest.pumping.wait(5)  # between commands the server reads the console


def test_requests_are_served_one_at_a_time(served: tuple[FakeGuest, ExecServer]) -> None:
    outputs: list[str] = []

    def client(number: int) -> None:
        outputs.append(run_remote("t1", f"n{number}", timeout=5).output)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outputs) == sorted(f"ran n{n}\n" for n in range(8))


def test_a_crash_reaches_the_client_and_ends_the_owner(
    served: tuple[FakeGuest, ExecServer],
) -> None:
    _, server = served
    with pytest.raises(GuestError, match="guest kernel oops") as raised:
        run_remote("t1", "crash", timeout=5)
    assert "Call Trace" in raised.value.console_tail
    with pytest.raises(GuestCrashed):
        server.wait()


def test_a_command_out_of_time_is_interrupted(served: tuple[FakeGuest, ExecServer]) -> None:
    guest, _ = served
    with pytest.raises(GuestError, match=r"no answer within 1s; it was interrupted \(Ctrl-C\)"):
        run_remote("t1", "hang", timeout=1)
    assert guest.commands == ["hang", "^C"]
    assert run_remote("t1", "next", timeout=5).output == "ran next\n"


def test_an_owner_that_stopped_serving_is_one_line(
    served: tuple[FakeGuest, ExecServer],
) -> None:
    _, server = served
    assert server.stop(timeout=5)
    started = time.monotonic()
    with pytest.raises(HarnessError, match=r"instance t1: its owner \(pid \d+\) no longer serves"):
        run_remote("t1", "true", timeout=5)
    assert time.monotonic() - started < 2


def test_guests_that_do_not_serve_exec_say_why(
    recorded_guest: GuestRecorder, tmp_path: Path
) -> None:
    recorded_guest("test", tmp_path / "u1", by_pytest=True)
    with pytest.raises(HarnessError, match="belongs to a pytest session"):
        run_remote("test", "true", timeout=5)
    with pytest.raises(HarnessError, match="no instance is running outside a pytest session"):
        run_remote(None, "true", timeout=5)
    person = recorded_guest("person", tmp_path / "u2")
    registry.set_console(person, registry.CONSOLE_INTERACTIVE)
    with pytest.raises(HarnessError, match="has an interactive console"):
        run_remote("person", "true", timeout=5)
    recorded_guest("script", tmp_path / "u3")
    with pytest.raises(HarnessError, match="does not serve exec: the program that booted it"):
        run_remote("script", "true", timeout=5)


def test_a_bad_request_gets_an_error_not_a_hang(served: tuple[FakeGuest, ExecServer]) -> None:
    guest, _ = served
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(str(guest.dir / registry.EXEC_SOCKET))
        connection.sendall(b'{"command": "x", "timeout": "nan"}')
        connection.shutdown(socket.SHUT_WR)
        reply = connection.recv(65536)
    assert b"bad exec request" in reply and b"finite number" in reply


def test_command_line() -> None:
    assert command_line(["dmesg | tail"]) == "dmesg | tail"
    assert command_line(["sh", "-c", "echo hi; exit 3"]) == "sh -c 'echo hi; exit 3'"
    assert remote_exec.DEFAULT_TIMEOUT > 0
