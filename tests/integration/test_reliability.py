"""What a careful user found: the harness owns only what it made, leaves no guest
behind however it dies, and never succeeds silently (issue: reliability and safety)."""

from __future__ import annotations

import gc
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.output import wait_for_output
from umlharness import Artifacts, BootRequest, Instance, IomemSpec
from umlharness.errors import BootTimeout, HarnessError
from umlharness.paths import cache_dir
from umlharness_shared.registry import processes_of

pytestmark = pytest.mark.slow

#: The entry point itself: a wrapper (a pyenv shim, say) would take the signals meant for it.
UMLHARNESS = str(Path(sys.executable).with_name("umlharness"))


def survivors(umid: str) -> list[int]:
    """Live processes of instance `umid`: its UML, PCI backends and watchdog."""
    return [pid for pid in processes_of(umid) if pid != os.getpid()]


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def start(umid: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [UMLHARNESS, "boot", "--umid", umid, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CI": "1"},
    )


MOMENTS = {
    # UML has started, the guest is still booting.
    "mid-boot": ([], lambda h, umid: wait_for(lambda: bool(survivors(umid)), 60)),
    "mid-run": (
        ["--run", "echo STARTED", "--run", "sleep 600"],
        lambda h, _: wait_for_output(h, "STARTED"),
    ),
    "mid-run-pci": (
        ["--pci", "rtl8111", "--run", "echo STARTED", "--run", "sleep 600"],
        lambda h, _: wait_for_output(h, "STARTED"),
    ),
    "console": ([], lambda h, _: wait_for_output(h, "console:   not a terminal")),
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_sigkilled_harness_leaves_no_guest(artifacts: Artifacts, moment: str) -> None:
    args, reached = MOMENTS[moment]
    umid = f"kill-{moment}"
    harness = start(umid, *args)
    try:
        reached(harness, umid)
        assert survivors(umid), "nothing to kill yet"
        instance_dirs = [p for p in Path(os.environ.get("UMLHARNESS_RUN", "/")).glob(umid)]
        harness.send_signal(signal.SIGKILL)
        harness.wait(timeout=10)
        assert wait_for(lambda: not survivors(umid), 2.0), f"survivors: {survivors(umid)}"
        assert all(not p.exists() for p in instance_dirs)
    finally:
        harness.kill()
        harness.wait()


def test_a_dropped_instance_is_torn_down(artifacts: Artifacts) -> None:
    instance = Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs, umid="dropped"))
    directory, umid = instance.dir, instance.umid
    assert survivors(umid)
    del instance
    gc.collect()
    assert wait_for(lambda: not survivors(umid), 2.0)
    assert not directory.exists()


def test_console_mode_fails_when_its_guest_is_killed(artifacts: Artifacts) -> None:
    harness = start("console-killed")
    try:
        wait_for_output(harness, "console:   not a terminal")
        uml = min(pid for pid in survivors("console-killed") if b"umid=" in _cmdline(pid))
        os.kill(uml, signal.SIGKILL)
        output, _ = harness.communicate(timeout=30)
    finally:
        harness.kill()
    assert harness.returncode == 2
    assert "umlharness: error: the guest's UML process was killed by SIGKILL" in output


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_run_dir_too_long_for_the_interrupt_socket_is_refused(
    artifacts: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_dir = tmp_path / ("d" * 60)
    monkeypatch.setenv("UMLHARNESS_RUN", str(long_dir))
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")])
    with pytest.raises(HarnessError, match="more than a unix socket path may be"):
        Instance.boot(request)
    assert list(long_dir.iterdir()) == []


def test_a_shared_directory_with_spaces_and_commas_is_mounted(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    shared = tmp_path / "my files, v2"
    shared.mkdir()
    (shared / "hello.txt").write_text("hello from the host\n")
    request = BootRequest(artifacts.kernel, artifacts.rootfs, share=shared)
    with Instance.boot(request) as vm:
        assert vm.check("cat /host/hello.txt") == "hello from the host\n"


def test_a_register_file_in_use_by_another_guest_is_refused(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    registers = tmp_path / "regs"
    registers.write_bytes(bytes(4096))
    first = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock", registers)])
    with Instance.boot(first) as vm:
        second = BootRequest(
            artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("thermo", registers)]
        )
        with pytest.raises(HarnessError, match=f"in use by running instance {vm.umid}"):
            Instance.boot(second)


def test_failure_archives_are_private(artifacts: Artifacts) -> None:
    request = BootRequest(
        artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")], command_timeout=1
    )
    with pytest.raises(BootTimeout) as caught, Instance.boot(request) as vm:
        vm.run("sleep 30")
    assert caught.value.log is not None
    saved = caught.value.log.parent
    assert saved.parent == cache_dir() / "logs" / "instances"
    for directory in (saved.parent, saved):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(saved.iterdir())
    assert {"console.log", "kernel.log", "iomem-mock.bin"} <= {f.name for f in files}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_pci_model_whose_constructor_raises_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [UMLHARNESS, "boot", "--pci", "tests.unit.broken_model:Broken", "--run", "true"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CI": "1", "PYTHONPATH": str(Path(__file__).parents[2])},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    line, where = result.stderr.splitlines()
    assert line == (
        "umlharness: error: --pci tests.unit.broken_model:Broken: PCI model "
        "tests.unit.broken_model:Broken failed to start: RuntimeError: broken on purpose "
        "(its log has the details)"
    )
    log = Path(where.removeprefix("console log: "))
    assert log.name == "pci0.log"
    assert 'raise RuntimeError("broken on purpose")' in log.read_text()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"UMLHARNESS_TIMEOUT": "abc"},
            "--uml-timeout (UMLHARNESS_TIMEOUT, ini uml_timeout) 'abc'",
        ),
        ({"UMLHARNESS_TIMEOUT": "nan"}, "must be a finite number"),
        ({"UMLHARNESS_MEM": "100000G"}, "more than this host's"),
    ],
)
def test_bad_plugin_settings_are_one_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    setting: dict[str, str],
    message: str,
) -> None:
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile("def test_a(uml): pass\ndef test_b(uml): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "umlharness:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr.str()


def test_a_background_job_that_ends_on_its_own_does_not_end_the_guest(
    artifacts: Artifacts,
) -> None:
    with Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs)) as vm:
        vm.check("(sleep 0.5; exit 2) >/dev/null 2>&1 &")
        time.sleep(1.5)  # the job ended while the shell sat idle
        assert vm.check("echo alive") == "alive\n"
        assert "Z" not in vm.check("ps -o stat | tail -n +2")
