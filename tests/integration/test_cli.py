"""The `umlharness` command as a user runs it: exit codes, clear errors, nothing left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from umlharness import Artifacts, BootRequest, Instance
from umlharness_shared.rundir import run_dir

pytestmark = pytest.mark.slow

UMLHARNESS = shutil.which("umlharness") or "umlharness"


def umlharness(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [UMLHARNESS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CI": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def uml_processes() -> set[int]:
    """Live (non-zombie) processes running a UML kernel binary called `linux`."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if name == "linux" and rest.split()[0] != "Z":
            pids.add(int(stat.parent.name))
    return pids


@pytest.fixture
def nothing_left_behind(artifacts: Artifacts) -> Iterator[None]:
    """The test leaves no UML process and no instance directory."""
    before_dirs = set(run_dir().iterdir())
    before_pids = uml_processes()
    yield
    deadline = time.monotonic() + 5
    while uml_processes() - before_pids and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uml_processes() - before_pids == set()
    assert set(run_dir().iterdir()) - before_dirs == set()


def one_error_line(stderr: str) -> str:
    first = stderr.splitlines()[0]
    assert first.startswith("umlharness: error: ")
    assert "Traceback" not in stderr
    return first


@pytest.mark.usefixtures("nothing_left_behind")
def test_run_commands_exit_zero() -> None:
    result = umlharness("boot", "--iomem", "mock", "--run", "cat /proc/iomem", "--run", "lsmod")
    assert result.returncode == 0, result.stderr
    assert "Module" in result.stdout


@pytest.mark.usefixtures("nothing_left_behind")
def test_run_false_exits_one() -> None:
    assert umlharness("boot", "--run", "false").returncode == 1


@pytest.mark.usefixtures("nothing_left_behind")
def test_timeout_fails_fast_with_console_tail() -> None:
    started = time.monotonic()
    result = umlharness("boot", "--timeout", "5", "--run", "sleep 100")
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert "sleep 100" in one_error_line(result.stderr)
    assert "console tail" in result.stderr and "console log:" in result.stderr
    assert elapsed < 15  # a bound on "about 5 s", not a measurement


@pytest.mark.usefixtures("nothing_left_behind")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--iomem", "mock=/nonexistent/regs"], "does not exist"),
        (["--iomem", "mock:12Q"], "bad size"),
        (["--iomem", "bad-name"], "must be a C identifier"),
        (["--share", "/nonexistent/dir"], "not a directory"),
        (["--mem", "1M"], "at least 32M"),
        (["--mem", "100000G"], "more than this host's"),
        (["--timeout", "nan"], "--timeout 'nan': must be a finite number"),
        (["--umid", ""], "bad umid ''"),
        (["--pci", "rtl8111,mac=00:e0:4c:00:00:01,mac=00:e0:4c:00:00:02"], "given twice"),
    ],
)
def test_bad_boot_input(args: list[str], message: str) -> None:
    result = umlharness("boot", *args, "--run", "true")
    assert result.returncode == 2
    assert message in one_error_line(result.stderr)


@pytest.mark.usefixtures("nothing_left_behind")
def test_unreadable_iomem_file(tmp_path: Path) -> None:
    regs = tmp_path / "regs"
    regs.write_bytes(bytes(4096))
    regs.chmod(0)
    if os.access(regs, os.R_OK):
        regs.chmod(0o644)
        regs = tmp_path  # root reads anything: a directory is refused just the same
    result = umlharness("boot", "--iomem", f"mock={regs}", "--run", "true")
    assert result.returncode == 2
    assert "iomem file" in one_error_line(result.stderr)


def test_no_kernel_source() -> None:
    result = umlharness("kernel", "build", "--source", "/nonexistent/linux")
    assert result.returncode == 2
    assert "does not exist" in one_error_line(result.stderr)


@pytest.mark.usefixtures("nothing_left_behind")
def test_umid_in_use(artifacts: Artifacts) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, umid="uh-cli-dup")
    with Instance.boot(request):
        result = umlharness("boot", "--umid", "uh-cli-dup", "--run", "true")
    assert result.returncode == 2
    assert "already in use" in one_error_line(result.stderr)


@pytest.mark.usefixtures("nothing_left_behind")
def test_noexec_temp_dir(tmp_path: Path) -> None:
    mountpoint = tmp_path / "noexec"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a noexec tmpfs needs root")
    try:
        result = umlharness("boot", "--run", "true", env={"TMPDIR": str(mountpoint)})
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    assert result.returncode == 2
    assert "noexec" in one_error_line(result.stderr)


def test_ps_and_stop(artifacts: Artifacts) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, umid="uh-cli-ps")
    instance = Instance.boot(request)
    try:
        listing = umlharness("ps").stdout
        assert "uh-cli-ps" in listing and f"pid {instance.pid}" in listing
        assert umlharness("stop", "uh-cli-ps").returncode == 0
        assert "uh-cli-ps" not in umlharness("ps").stdout
        assert not instance.dir.exists()
    finally:
        instance.kill()


def test_second_builds_come_from_the_cache(artifacts: Artifacts) -> None:
    if artifacts.kernel.gathers_coverage:
        pytest.skip("`kernel build` without --cov names the default kernel, not the cov one")
    log = artifacts.kernel.log
    before = log.stat().st_mtime_ns
    for command in (["kernel", "build"], ["rootfs", "build"]):
        result = umlharness(*command)
        assert result.returncode == 0, result.stderr
    assert umlharness("kernel", "build").stdout.strip() == str(artifacts.kernel.binary)
    assert umlharness("rootfs", "build").stdout.strip() == str(artifacts.rootfs.image)
    assert log.stat().st_mtime_ns == before


def test_kernel_list_shows_sources_and_the_built_kernel(artifacts: Artifacts) -> None:
    result = umlharness("kernel", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("supported series: 6.1, 6.12")
    built = [line for line in lines if f"key {artifacts.kernel.key}" in line]
    assert len(built) == 1 and built[0].split()[1] == artifacts.kernel.release
    assert any(line.startswith("source ") for line in lines)
