"""The RTL8111 link-status simulation end to end: real driver, real UML, real simulator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.attach import Attached, attach
from simulators.rtl8111.model import Rtl8111
from simulators.rtl8111.regs import RTL8111
from umlharness import Artifacts, BootRequest, Instance, IomemSpec

pytestmark = pytest.mark.slow

SIM = shutil.which("sim") or "sim"
LINK_LINE = re.compile(r"Link status changed to (UP|DOWN)")


@pytest.fixture
def nic_vm(artifacts: Artifacts) -> Iterator[Instance]:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")])
    with Instance.boot(request) as instance:
        yield instance


@pytest.fixture
def device(nic_vm: Instance) -> Iterator[Attached]:
    with attach(RTL8111, umid=nic_vm.umid, device="RTL8111") as attached:
        yield attached


def mock_interrupts(vm: Instance) -> int:
    return sum(line.count for line in vm.interrupts() if line.name == "mock")


def sysfs(vm: Instance, attribute: str) -> str:
    return vm.check(f"cat /sys/class/net/eth0/{attribute}").strip()


def settles_to(vm: Instance, attribute: str, value: str, seconds: float = 3) -> bool:
    """Whether the attribute reaches `value` within `seconds` (linkwatch defers operstate)."""
    tries = int(seconds / 0.1)
    return vm.run(
        f'for i in $(seq {tries}); do [ "$(cat /sys/class/net/eth0/{attribute})" = {value} ]'
        " && exit 0; sleep 0.1; done; exit 1",
        timeout=seconds + 5,
    ).ok


def sim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIM, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_four_toggles_reproduce_the_seed_transcript(nic_vm: Instance) -> None:
    printed = [sim("link", "toggle", "--umid", nic_vm.umid) for _ in range(4)]
    assert [p.returncode for p in printed] == [0, 0, 0, 0], printed[0].stderr
    assert [p.stdout.strip() for p in printed] == [
        "Changing Link Status to UP",
        "Changing Link Status to DOWN",
        "Changing Link Status to UP",
        "Changing Link Status to DOWN",
    ]
    nic_vm.run("true")  # the kernel log is settled after a command
    assert LINK_LINE.findall(nic_vm.kernel_log) == ["UP", "DOWN", "UP", "DOWN"]
    assert mock_interrupts(nic_vm) == 4


def test_carrier_operstate_speed_and_duplex_follow_the_phy(
    nic_vm: Instance, device: Attached
) -> None:
    nic = Rtl8111(device.regs, device.irq)
    nic_vm.check("ip link set eth0 up")
    assert (sysfs(nic_vm, "carrier"), sysfs(nic_vm, "operstate")) == ("0", "down")
    nic.link_up(speed=100, full_duplex=False)
    assert sysfs(nic_vm, "carrier") == "1"
    assert settles_to(nic_vm, "operstate", "up")
    assert (sysfs(nic_vm, "speed"), sysfs(nic_vm, "duplex")) == ("100", "half")
    nic.link_down()
    nic.link_up(speed=1000)
    assert (sysfs(nic_vm, "speed"), sysfs(nic_vm, "duplex")) == ("1000", "full")
    nic.link_down()
    assert sysfs(nic_vm, "carrier") == "0"
    assert settles_to(nic_vm, "operstate", "down")


def test_mac_comes_from_the_registers(artifacts: Artifacts, tmp_path: Path) -> None:
    regs_file = tmp_path / "rtl8111.bin"
    regs_file.write_bytes(bytes(4096))
    with attach(RTL8111, iomem=regs_file, device="RTL8111") as offline:
        Rtl8111(offline.regs, None).set_mac(bytes.fromhex("02aabbccddee"))
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock", regs_file)])
    with Instance.boot(request) as vm:
        assert "link/ether 02:aa:bb:cc:dd:ee" in vm.check("ip link show eth0")


def test_rmmod_removes_socket_irq_and_netdev_and_reload_works(
    nic_vm: Instance,
) -> None:
    socket_path = nic_vm.umid_dir / "mock"
    assert socket_path.is_socket()
    nic_vm.check("rmmod uh_rtl8111")
    assert not socket_path.exists()
    assert "mock" not in [line.name for line in nic_vm.interrupts()]
    assert nic_vm.run("ip link show eth0").exit_code != 0
    failed = sim("link", "toggle", "--umid", nic_vm.umid)
    assert failed.returncode == 2 and failed.stderr.startswith("sim: error: ")
    assert len(failed.stderr.strip().splitlines()) == 1

    nic_vm.check("modprobe uh_rtl8111")
    assert socket_path.is_socket()
    assert sim("link", "up", "--umid", nic_vm.umid).returncode == 0
    assert nic_vm.check("ip link set eth0 up && cat /sys/class/net/eth0/carrier") == "1\n"


def test_fast_flap_ends_in_the_final_state(nic_vm: Instance, device: Attached) -> None:
    nic = Rtl8111(device.regs, device.irq)
    nic_vm.check("ip link set eth0 up")
    result = nic.flap(1000, 0)
    assert result.changes == 1000 and result.up is False  # from down, an even count
    assert sysfs(nic_vm, "carrier") == "0"
    handled = mock_interrupts(nic_vm)
    # Changes that land before the handler runs coalesce into one interrupt;
    # the handler always reads the final PHYstatus, so no state is lost.
    assert 1 <= handled <= 1001
    nic.flap(1, 0)
    assert sysfs(nic_vm, "carrier") == "1"


def test_sim_without_a_driver_is_one_clear_error(artifacts: Artifacts) -> None:
    request = BootRequest(
        artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")], autoload=False
    )
    with Instance.boot(request) as vm:
        result = sim("link", "toggle", "--umid", vm.umid)
    assert result.returncode == 2
    assert result.stderr.startswith("sim: error: ") and "Traceback" not in result.stderr


def test_boot_run_with_toggles_from_another_shell(artifacts: Artifacts) -> None:
    umid = "uh-seed-transcript"
    boot = subprocess.Popen(
        [
            "umlharness",
            "boot",
            "--iomem",
            "mock",
            "--umid",
            umid,
            "--run",
            "sleep 10",
            "--run",
            "dmesg",
            "--run",
            "cat /proc/interrupts",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "1"},
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (
                "socket mock"
                in subprocess.run(["umlharness", "ps"], capture_output=True, text=True).stdout
            ):
                break
            time.sleep(0.1)
        outputs = [sim("link", "toggle", "--umid", umid).stdout.strip() for _ in range(4)]
        stdout, stderr = boot.communicate(timeout=60)
    finally:
        boot.kill()
    assert boot.returncode == 0, stderr
    assert outputs == ["Changing Link Status to UP", "Changing Link Status to DOWN"] * 2
    assert LINK_LINE.findall(stdout) == ["UP", "DOWN", "UP", "DOWN"]
    assert re.search(r"^\s*\d+:\s+4\s+SIGIO\s+mock$", stdout, re.M), stdout
