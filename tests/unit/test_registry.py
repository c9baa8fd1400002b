"""The instance registry touches only what the harness made, and signals only its own processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from umlharness import paths
from umlharness.errors import HarnessError
from umlharness_shared import registry, rundir
from umlharness_shared.procs import ProcessId, kill_recorded, kill_recorded_group, pid_alive

from .conftest import GuestRecorder


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    return tmp_path / "run"


def sleeper(*argv: str) -> subprocess.Popen[bytes]:
    """A process that sleeps, with `argv` on its command line, leading its own
    process group as UML does."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", *argv], start_new_session=True
    )


def old(path: Path) -> Path:
    stamp = time.time() - 3600
    os.utime(path, (stamp, stamp))
    return path


def test_ps_leaves_directories_it_did_not_make(run_dir: Path) -> None:
    run_dir.mkdir()
    project = run_dir / "myproject"
    project.mkdir()
    (project / "main.c").write_text("int main;")
    old(project)
    notes = run_dir / "notes"
    notes.mkdir()
    old(notes)
    assert registry.instances() == []
    assert (project / "main.c").read_text() == "int main;"
    assert notes.is_dir()


def test_a_record_naming_another_process_kills_nothing(run_dir: Path) -> None:
    victim = sleeper("not-a-guest")
    try:
        identity = ProcessId.of(victim.pid)
        assert identity is not None
        directory = registry.claim("forged")
        registry.record(directory, uml=identity, iomem={}, umid_dir=str(directory))
        assert registry.instances() == []  # not a UML of that instance: not running
        time.sleep(0.1)
        assert victim.poll() is None
        assert not directory.exists()  # the stale record itself is reaped
    finally:
        victim.kill()
        victim.wait()


def test_a_reused_pid_is_not_the_recorded_process() -> None:
    process = sleeper("umid=t1")
    try:
        identity = ProcessId.of(process.pid)
        assert identity is not None
        before = ProcessId(identity.pid, identity.start + 1)  # "an earlier process"
        kill_recorded_group(before, b"umid=t1", timeout=0.2)
        kill_recorded(before, b"umid=t1", timeout=0.2)
        assert process.poll() is None
        assert identity.is_ours(b"umid=t1")
        kill_recorded(identity, b"umid=t1")
        assert process.wait(timeout=5) != 0
    finally:
        process.kill()
        process.wait()


def test_orphaned_guest_is_killed_and_reaped(run_dir: Path) -> None:
    guest = sleeper("umid=orphan")
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        directory = registry.claim("orphan")
        uml = ProcessId.of(guest.pid)
        assert uml is not None
        registry.record(directory, uml=uml, iomem={}, umid_dir=str(directory))
        record = json.loads((directory / registry.RECORD).read_text())
        record["owner"] = [dead_owner.pid, 1]
        (directory / registry.RECORD).write_text(json.dumps(record))
        assert registry.instances() == []
        assert guest.wait(timeout=5) == -9
        assert not directory.exists()
    finally:
        guest.kill()
        guest.wait()


def test_a_claim_whose_claimant_died_is_reaped_one_still_starting_is_not(run_dir: Path) -> None:
    starting = registry.claim("starting")
    dead = registry.claim("dead")
    (dead / registry.MARKER).write_text(json.dumps({"owner": [2**22 + 7, 1]}))
    assert registry.instances() == []
    assert starting.is_dir()
    assert not dead.exists()


def test_claim_refuses_a_directory_that_is_not_an_instance(run_dir: Path) -> None:
    run_dir.mkdir()
    (run_dir / "mine").mkdir()
    with pytest.raises(HarnessError, match="not an instance directory of umlharness"):
        registry.claim("mine")
    assert (run_dir / "mine").is_dir()


def test_running_guests_are_listed(recorded_guest: GuestRecorder, tmp_path: Path) -> None:
    recorded_guest("t1", tmp_path)
    (info,) = registry.instances()
    assert info.umid == "t1" and info.running() and not info.orphaned


def test_run_dir_that_is_a_symlink_is_refused(tmp_path: Path, run_dir: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    run_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(HarnessError, match="is a symlink"):
        registry.instances()


def test_run_dir_writable_by_others_is_refused(run_dir: Path) -> None:
    run_dir.mkdir()
    run_dir.chmod(0o777)
    with pytest.raises(HarnessError, match=r"writable by others \(mode 0777\)"):
        registry.instances()


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory another user's needs root")
def test_run_dir_of_another_user_is_refused(run_dir: Path) -> None:
    run_dir.mkdir(mode=0o700)
    os.chown(run_dir, 65534, 65534)
    with pytest.raises(HarnessError, match="belongs to uid 65534"):
        registry.instances()


def test_cache_dir_naming_a_file_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("UMLHARNESS_CACHE", str(tmp_path / "file"))
    with pytest.raises(HarnessError, match="is not a directory"):
        paths.cache_dir()
    monkeypatch.setenv("UMLHARNESS_CACHE", str(tmp_path / "file" / "below"))
    with pytest.raises(HarnessError, match="cannot create it"):
        paths.cache_dir()


def test_new_run_dir_is_private(run_dir: Path) -> None:
    rundir.run_dir()
    assert run_dir.stat().st_mode & 0o777 == 0o700


def test_what_is_left_of_a_group_whose_leader_died_is_killed() -> None:
    """UML's helpers outlive its main process when a death signal kills that first."""
    script = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\ntime.sleep(600)\n"
    leader = subprocess.Popen([sys.executable, "-c", script, "umid=t9"], start_new_session=True)
    try:
        identity = ProcessId.of(leader.pid)
        assert identity is not None
        time.sleep(0.3)  # the helper is forked
        helpers = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and int(p.name) != leader.pid and os.getpgid(leader.pid) == _pgid(p)
        ]
        assert helpers
        leader.kill()
        leader.wait()  # now it is gone; its helper lives on in its group
        kill_recorded_group(identity, b"umid=t9")
        time.sleep(0.1)
        assert not any(pid_alive(pid) for pid in helpers)
    finally:
        leader.kill()
        leader.wait()


def _pgid(proc: Path) -> int:
    try:
        return os.getpgid(int(proc.name))
    except OSError:
        return -1


def test_a_claim_whose_marker_is_being_written_is_not_reaped(run_dir: Path) -> None:
    """A reaper must not take a half-written marker for a dead claim."""
    starting = registry.claim("starting")
    (starting / registry.MARKER).write_text("")  # as another process sees it mid-write
    assert registry.instances() == []
    assert starting.is_dir()
    stale = time.time() - registry.UNREADABLE_CLAIM_SECONDS - 1
    os.utime(starting / registry.MARKER, (stale, stale))
    assert registry.instances() == []
    assert not starting.exists()


def test_a_bare_find_skips_the_guests_of_pytest_sessions(
    recorded_guest: GuestRecorder, tmp_path: Path
) -> None:
    recorded_guest("t1", tmp_path / "u1", by_pytest=True)
    recorded_guest("t2", tmp_path / "u2", by_pytest=True)
    with pytest.raises(
        HarnessError,
        match=r"no instance is running outside a pytest session \(t1, t2 belong to one\)",
    ):
        registry.find(None)
    assert registry.find("t1").by_pytest  # named, a test's guest is reachable
    recorded_guest("mine", tmp_path / "u3")
    assert registry.find(None).umid == "mine"
    assert [info.by_pytest for info in registry.instances()] == [True, True, False]


def test_umlharness_umid_chooses_when_no_umid_is_given(
    recorded_guest: GuestRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded_guest("t1", tmp_path / "u1")
    recorded_guest("t2", tmp_path / "u2")
    recorded_guest("t3", tmp_path / "u3", by_pytest=True)
    with pytest.raises(HarnessError, match=r"pick one with --umid or UMLHARNESS_UMID"):
        registry.find(None)
    monkeypatch.setenv(registry.UMID_ENV, "t2")
    assert registry.find(None).umid == "t2"
    assert registry.find("t1").umid == "t1"  # a umid given wins
    monkeypatch.setenv(registry.UMID_ENV, "t3")
    assert registry.find(None).umid == "t3"  # named, even a test's
    monkeypatch.setenv(registry.UMID_ENV, "t9")
    with pytest.raises(
        HarnessError, match=r"no running instance with umid t9 \(from UMLHARNESS_UMID\)"
    ):
        registry.find(None)
    monkeypatch.setenv(registry.UMID_ENV, "")  # set but empty: as if unset
    with pytest.raises(HarnessError, match="2 instances are running"):
        registry.find(None)


def test_choose_is_the_same_choice_without_the_registry(tmp_path: Path) -> None:
    def info(umid: str, by_pytest: bool = False) -> registry.InstanceInfo:
        me = ProcessId.this()
        return registry.InstanceInfo(umid, tmp_path, tmp_path, {}, 0.0, me, me, by_pytest=by_pytest)

    running = [info("a", by_pytest=True), info("b")]
    assert registry.choose(running, None, None).umid == "b"
    assert registry.choose(running, None, "a").umid == "a"
    assert registry.choose(running, "b", "a").umid == "b"
    with pytest.raises(HarnessError, match="no running instance: start one"):
        registry.choose([], None, None)


def test_stop_without_a_umid_leaves_a_pytest_sessions_guest_alone(
    recorded_guest: GuestRecorder, tmp_path: Path
) -> None:
    recorded_guest("t1", tmp_path / "u1", by_pytest=True)
    with pytest.raises(HarnessError, match="outside a pytest session"):
        registry.stop(None)
    (info,) = registry.instances()
    assert info.umid == "t1" and info.running()


def test_the_console_mode_is_recorded(recorded_guest: GuestRecorder, tmp_path: Path) -> None:
    directory = recorded_guest("t1", tmp_path / "u1")
    assert registry.find("t1").console is None
    registry.set_console(directory, registry.CONSOLE_EXEC)
    info = registry.find("t1")
    assert info.console == registry.CONSOLE_EXEC and info.running()
