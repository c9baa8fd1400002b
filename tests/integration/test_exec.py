"""`umlharness exec` into a console-mode guest, and which guest a bare command picks:
UMLHARNESS_UMID, and never a guest a pytest session booted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from tests.integration.output import powered_off, wait_for_output
from umlharness import Artifacts, BootRequest, Instance
from umlharness_shared.registry import EXEC_SOCKET, UMID_ENV, processes_of

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
UMLHARNESS = str(BIN / "umlharness")
SIM = str(BIN / "sim")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run directory of the test's own, so no other guest is a candidate; empty at the end."""
    directory = tmp_path / "run"
    monkeypatch.setenv("UMLHARNESS_RUN", str(directory))
    yield directory
    deadline = time.monotonic() + 5
    while directory.exists() and any(directory.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not directory.exists() or list(directory.iterdir()) == []


def command(
    program: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CI": "1", **(env or {})},
    )


def one_error_line(result: subprocess.CompletedProcess[str], program: str = "umlharness") -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()[0].removeprefix(f"{program}: error: ")


Booter = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def console_boot(run: Path) -> Iterator[Booter]:
    """Start `umlharness boot --umid ID [OPTION...]` in console mode (no terminal);
    return once it serves."""
    started: list[tuple[str, subprocess.Popen[str]]] = []

    def boot(umid: str, *options: str) -> subprocess.Popen[str]:
        owner = subprocess.Popen(
            [UMLHARNESS, "boot", "--umid", umid, *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CI": "1"},
        )
        started.append((umid, owner))
        wait_for_output(owner, "console:   not a terminal")
        return owner

    yield boot
    for umid, owner in started:
        if owner.poll() is None:
            owner.terminate()
        owner.communicate(timeout=30)
        deadline = time.monotonic() + 5
        while processes_of(umid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_of(umid) == []


def test_exec_prints_the_output_and_exits_with_the_commands_status(
    console_boot: Booter, run: Path
) -> None:
    owner = console_boot("uh-exec")
    assert (run / "uh-exec" / EXEC_SOCKET).stat().st_mode & 0o777 == 0o600
    result = command(UMLHARNESS, "exec", "--", "sh", "-c", "echo hi; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "hi\n", "")
    # One argument is a command line, as with `boot --run`.
    piped = command(UMLHARNESS, "exec", "--umid", "uh-exec", "echo a | tr a b")
    assert (piped.returncode, piped.stdout) == (0, "b\n")
    assert "[serves exec]" in command(UMLHARNESS, "ps").stdout
    assert command(UMLHARNESS, "stop").returncode == 0
    output, _ = owner.communicate(timeout=30)
    assert owner.returncode == 0  # stopped on request: a clean exit
    assert powered_off(output)  # powered off by its owner, not killed
    gone = one_error_line(command(UMLHARNESS, "exec", "--umid", "uh-exec", "true"))
    assert gone == "no running instance with umid uh-exec"


def test_exec_into_a_crashed_guest_is_one_line(console_boot: Booter) -> None:
    owner = console_boot("uh-crash")
    crashed = command(UMLHARNESS, "exec", "echo c > /proc/sysrq-trigger")
    assert one_error_line(crashed) == "guest kernel panic"
    assert "sysrq triggered crash" in crashed.stderr  # the trace follows the line
    output, _ = owner.communicate(timeout=30)
    assert owner.returncode == 2 and "umlharness: error: guest kernel panic" in output
    after = one_error_line(command(UMLHARNESS, "exec", "true"))
    assert after == "no running instance: start one with `umlharness boot`"


def test_exec_whose_owner_was_killed_is_one_line(console_boot: Booter, run: Path) -> None:
    owner = console_boot("uh-orphan")
    owner.kill()
    owner.wait()
    result = command(UMLHARNESS, "exec", "--umid", "uh-orphan", "true")
    # The watchdog may or may not have removed the instance yet.
    assert one_error_line(result) in (
        "no running instance with umid uh-orphan",
        f"instance uh-orphan: its owner (pid {owner.pid}) no longer serves exec (it has exited)",
    )


def test_a_command_out_of_time_fails_and_the_next_one_runs(console_boot: Booter) -> None:
    console_boot("uh-slow")
    started = time.monotonic()
    slow = command(UMLHARNESS, "exec", "--timeout", "1", "sleep 60")
    assert (
        one_error_line(slow) == "run 'sleep 60': no answer within 1s; it was interrupted (Ctrl-C)"
    )
    # Ctrl-C stopped it (commands in the guest do not ignore SIGINT): the next
    # command runs now, not after the minute.
    assert command(UMLHARNESS, "exec", "echo next").stdout == "next\n"
    assert time.monotonic() - started < 15


def test_umlharness_umid_picks_among_two_guests(console_boot: Booter) -> None:
    first, second = console_boot("uh-first"), console_boot("uh-second")
    bare = one_error_line(command(UMLHARNESS, "exec", "true"))
    assert bare == (
        "2 instances are running (uh-first, uh-second): pick one with --umid or UMLHARNESS_UMID"
    )
    for umid in ("uh-first", "uh-second"):
        picked = command(UMLHARNESS, "exec", "cat /proc/cmdline", env={UMID_ENV: umid})
        assert f"/run/{umid}/uml " in picked.stdout  # uml_dir= names the instance
    stopped = command(UMLHARNESS, "stop", env={UMID_ENV: "uh-second"})
    assert stopped.stdout == "stopped uh-second\n"
    second.communicate(timeout=30)
    assert first.poll() is None
    missing = one_error_line(command(UMLHARNESS, "stop", env={UMID_ENV: "uh-second"}))
    assert missing == "no running instance with umid uh-second (from UMLHARNESS_UMID)"


def test_a_bare_sim_stop_or_exec_leaves_a_pytest_sessions_guest_alone(
    artifacts: Artifacts, run: Path
) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, umid="uh-test", by_pytest=True)
    with Instance.boot(request) as vm:
        expected = (
            "no instance is running outside a pytest session (uh-test belong to one): "
            "name one with --umid"
        )
        assert one_error_line(command(UMLHARNESS, "exec", "true")) == expected
        assert one_error_line(command(SIM, "link", "toggle"), "sim") == expected
        stop = one_error_line(command(UMLHARNESS, "stop"))
        assert stop.startswith("no instance is running outside a pytest session (uh-test")
        refused = one_error_line(command(UMLHARNESS, "exec", "--umid", "uh-test", "true"))
        assert refused.startswith("instance uh-test belongs to a pytest session")
        assert vm.check("echo still here") == "still here\n"
        assert "uh-test  pid" in command(UMLHARNESS, "ps").stdout
        assert "[pytest session]" in command(UMLHARNESS, "ps").stdout
        assert command(UMLHARNESS, "stop", "uh-test").returncode == 0  # named, it is reached
        assert not vm.alive


def test_an_interactive_console_refuses_exec(run: Path) -> None:
    owner = pexpect.spawn(
        UMLHARNESS,
        ["boot", "--umid", "uh-person"],
        env={**os.environ, "CI": "1"},
        encoding="utf-8",
        timeout=60,
    )
    try:
        owner.expect("press Ctrl-]")
        refused = one_error_line(command(UMLHARNESS, "exec", "true"))
        assert refused.startswith("instance uh-person has an interactive console")
        owner.expect("# ")
        owner.send("\x1d")  # Ctrl-]
        owner.expect(pexpect.EOF)
    finally:
        owner.close(force=True)
    assert processes_of("uh-person") == []
