"""A real UML guest: commands, exit codes, crashes, timeouts, parallel instances."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from umlharness import (
    Artifacts,
    BootRequest,
    BootTimeout,
    GuestCrashed,
    HarnessError,
    Instance,
    IomemSpec,
)

from ..conftest import assert_gone

pytestmark = pytest.mark.slow


def test_run_returns_output_without_echo_or_prompt(vm: Instance) -> None:
    result = vm.run("echo hello; echo world")
    assert (result.exit_code, result.output) == (0, "hello\nworld\n")
    assert vm.run("printf abc").output == "abc"
    assert vm.run("true").output == ""


@pytest.mark.parametrize("status", [0, 1, 3, 127])
def test_exit_codes_are_recovered(vm: Instance, status: int) -> None:
    assert vm.run(f"exit {status}").exit_code == status
    assert vm.run("echo still-here").output == "still-here\n"


def test_stderr_is_merged_and_stdin_is_empty(vm: Instance) -> None:
    assert vm.run("echo oops >&2").output == "oops\n"
    assert vm.run("cat").output == ""


def test_hello_module_loads_unloads_and_reloads(vm: Instance) -> None:
    vm.check("modprobe hello")
    line = vm.expect_kernel(r"hello: loaded, umid file \S+")
    # umid_file_name() works from a module loaded long after boot.
    assert line.endswith(f"{vm.umid_dir}/hello")
    assert re.search(r"^hello \d+ 0 - Live", vm.check("cat /proc/modules"), re.M)
    assert "hello: loaded" in vm.dmesg()
    vm.check("rmmod hello")
    vm.expect_kernel(r"hello: unloaded")
    assert "hello" not in vm.check("cat /proc/modules")
    vm.check("modprobe hello")
    assert vm.check("lsmod").count("hello") == 1


def test_interrupts_are_parsed(vm: Instance) -> None:
    lines = vm.interrupts()
    assert any(line.name == "hr timer" and line.count > 0 for line in lines)


def test_kernel_panic_raises_with_trace(artifacts: Artifacts) -> None:
    instance = Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs))
    pid = instance.pid
    with pytest.raises(GuestCrashed) as caught, instance:
        instance.run("echo c > /proc/sysrq-trigger", timeout=20)
    assert caught.value.kind == "panic"
    assert "sysrq triggered crash" in caught.value.trace
    assert caught.value.log is not None and caught.value.log.exists()
    assert_gone(instance, pid)


def test_command_timeout_kills_the_guest(artifacts: Artifacts) -> None:
    instance = Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs))
    pid = instance.pid
    with pytest.raises(BootTimeout) as caught, instance:
        instance.run("sleep 100", timeout=1)
    assert "sleep 100" in str(caught.value)
    assert_gone(instance, pid)


def test_harness_iomem_file_is_fresh_and_mapped(artifacts: Artifacts) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec.parse("regs:8K")])
    with Instance.boot(request) as instance:
        path = instance.iomem_files["regs"]
        assert path.stat().st_size == 8192 and path.read_bytes() == bytes(8192)
        assert "umlharness.iomem=regs" in instance.check("cat /proc/cmdline")


def test_user_iomem_file_is_used_as_is(artifacts: Artifacts, tmp_path: Path) -> None:
    user_file = tmp_path / "regs.bin"
    user_file.write_bytes(b"\x5a" * 4096)
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("regs", user_file)])
    with Instance.boot(request) as instance:
        assert instance.iomem_files["regs"] == user_file.resolve()
    assert user_file.read_bytes() == b"\x5a" * 4096


def test_share_mounts_host_directory(artifacts: Artifacts, tmp_path: Path) -> None:
    (tmp_path / "stack.sh").write_text("echo from-the-host\n")
    request = BootRequest(artifacts.kernel, artifacts.rootfs, share=tmp_path)
    with Instance.boot(request) as instance:
        assert instance.check("sh /host/stack.sh") == "from-the-host\n"


def test_umid_in_use_is_refused(artifacts: Artifacts) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, umid="uh-test-dup")
    with Instance.boot(request), pytest.raises(HarnessError, match="already in use"):
        Instance.boot(request)


def test_two_instances_at_once_leave_nothing(artifacts: Artifacts) -> None:
    results: dict[str, str] = {}
    instances: list[Instance] = []

    def use(name: str) -> None:
        with Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs)) as instance:
            instances.append(instance)
            results[name] = instance.check(f"echo {name}; cat /proc/sys/kernel/hostname")
            instance.check("modprobe hello")

    threads = [threading.Thread(target=use, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {"one": "one\numlharness\n", "two": "two\numlharness\n"}
    assert len({instance.umid for instance in instances}) == 2
    for instance in instances:
        assert_gone(instance, instance.pid)


def test_a_command_out_of_time_is_stopped_by_ctrl_c(vm: Instance) -> None:
    # Nothing the guest runs ignores SIGINT (a background job of init's
    # non-interactive shell would, and so would everything it started).
    assert vm.check("grep SigIgn /proc/self/status").split() == ["SigIgn:", "0000000000000000"]
    with pytest.raises(BootTimeout):
        vm.run("sleep 100", timeout=1)
    started = time.monotonic()
    vm.interrupt(timeout=3)
    assert vm.run("echo after", timeout=5).output == "after\n"
    assert time.monotonic() - started < 3
