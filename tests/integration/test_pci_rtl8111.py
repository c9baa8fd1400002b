"""The kernel's own r8169 driver against the Python RTL8111 model, over UML's virt-pci."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.output import powered_off
from umlharness import Artifacts, BootRequest, Instance, PciSpec
from umlharness.pci import PciBackendDied

pytestmark = pytest.mark.slow

SIM = shutil.which("sim") or "sim"
UMLHARNESS = shutil.which("umlharness") or "umlharness"
LINK = re.compile(r"r8169 \S+ eth0: Link is (Up|Down)")
MAC = "02:00:5e:10:81:11"


def boot(artifacts: Artifacts, *specs: str, trace: Path | None = None) -> Instance:
    request = BootRequest(
        artifacts.kernel,
        artifacts.rootfs,
        pci=[PciSpec.parse(spec) for spec in specs],
        pci_trace=trace,
    )
    return Instance.boot(request)


@pytest.fixture
def nic(artifacts: Artifacts) -> Iterator[Instance]:
    with boot(artifacts, f"rtl8111,mac={MAC}") as instance:
        yield instance


def link_messages(vm: Instance) -> list[str]:
    return LINK.findall(vm.kernel_log)


def wait_for(vm: Instance, condition: str, seconds: float = 5) -> bool:
    """Whether the shell `condition` holds within `seconds` (phylib works from a workqueue)."""
    tries = int(seconds / 0.05)
    return vm.run(
        f"for i in $(seq {tries}); do {condition} && exit 0; sleep 0.05; done; exit 1",
        timeout=seconds + 5,
    ).ok


def carrier_is(vm: Instance, value: int) -> bool:
    return wait_for(vm, f'[ "$(cat /sys/class/net/eth0/carrier)" = {value} ]')


def test_r8169_binds_with_the_models_mac(nic: Instance) -> None:
    assert nic.check("cat /sys/bus/pci/devices/0000:00:00.0/vendor").strip() == "0x10ec"
    assert nic.check("cat /sys/bus/pci/devices/0000:00:00.0/device").strip() == "0x8168"
    driver = nic.check("readlink /sys/bus/pci/devices/0000:00:00.0/driver")
    assert driver.strip().endswith("/r8169")
    assert nic.check("cat /sys/class/net/eth0/address").strip() == MAC
    assert "RTL8168c/8111c" in nic.kernel_log
    assert "MSI" in nic.check("cat /proc/interrupts")


def link_messages_reach(vm: Instance, count: int) -> bool:
    """Whether r8169 has printed `count` "Link is Up/Down" lines (phylib prints from a worker)."""
    return wait_for(vm, f"[ $(dmesg | grep -c 'eth0: Link is') -ge {count} ]")


def test_link_is_up_at_boot_and_follows_the_model(nic: Instance) -> None:
    assert carrier_is(nic, 1)
    with nic.pci_model() as model:
        assert model.link_state().up
        for count, up in enumerate((False, True, False, True), start=2):
            if up:
                model.link_up()
            else:
                model.link_down()
            assert carrier_is(nic, 1 if up else 0)
            assert link_messages_reach(nic, count)
    assert link_messages(nic) == ["Up", "Down", "Up", "Down", "Up"]


def test_speed_and_duplex_reach_ethtool_settings(nic: Instance) -> None:
    with nic.pci_model() as model:
        model.link_down()
        assert carrier_is(nic, 0)
        model.link_up(100, False)
        assert carrier_is(nic, 1)
    assert wait_for(nic, '[ "$(cat /sys/class/net/eth0/speed)" = 100 ]')
    assert nic.check("cat /sys/class/net/eth0/duplex").strip() == "half"
    assert "Link is Up - 100Mbps/Half" in nic.kernel_log


def test_sim_link_toggle_reaches_the_pci_model(nic: Instance) -> None:
    env = {**os.environ}
    for expected in ("DOWN", "UP", "DOWN", "UP"):
        done = subprocess.run(
            [SIM, "link", "toggle", "--umid", nic.umid],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"Changing Link Status to {expected}"
        assert carrier_is(nic, 1 if expected == "UP" else 0)
    status = subprocess.run(
        [SIM, "link", "status", "--umid", nic.umid], capture_output=True, text=True, timeout=30
    )
    assert "Link: UP" in status.stdout
    assert wait_for(nic, "dmesg | grep -c 'eth0: Link is Down' | grep -qx 2")


def test_transmit_goes_through_dma_to_the_model(nic: Instance) -> None:
    # An ARP request for an address on the interface's network: r8169 puts the
    # frame in its Tx ring, rings TxPoll, the model takes it by DMA.
    nic.check("ip addr add 192.0.2.1/24 dev eth0")
    nic.run("arping -c 2 -w 1 -I eth0 192.0.2.2", timeout=10)
    with nic.pci_model() as model:
        frames = model.transmitted()
    arp = [f for f in frames if f[12:14] == b"\x08\x06"]
    assert arp, [f[:16].hex() for f in frames]
    assert arp[0][:6] == b"\xff" * 6  # broadcast
    assert arp[0][6:12] == bytes.fromhex(MAC.replace(":", ""))  # from the model's MAC
    assert bytes([192, 0, 2, 2]) in arp[0]  # who-has 192.0.2.2
    sent = int(nic.check("cat /sys/class/net/eth0/statistics/tx_packets"))
    assert sent >= len(arp)
    assert "timed out" not in nic.kernel_log


def test_rmmod_and_reload(nic: Instance) -> None:
    nic.check("rmmod r8169")
    assert nic.run("[ -e /sys/class/net/eth0 ]").exit_code != 0
    nic.check("modprobe r8169 && ip link set eth0 up")
    assert nic.check("cat /sys/class/net/eth0/address").strip() == MAC
    assert carrier_is(nic, 1)
    with nic.pci_model() as model:
        model.link_down()
    assert carrier_is(nic, 0)


def test_two_devices_at_once(artifacts: Artifacts) -> None:
    first_spec, second_spec = "rtl8111,mac=02:00:00:00:00:01", "rtl8111,mac=02:00:00:00:00:02"
    with boot(artifacts, first_spec, f"{second_spec},link=down") as vm:
        addresses = vm.check("cat /sys/class/net/eth*/address").split()
        assert sorted(addresses) == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
        with vm.pci_model("pci1") as second:
            second.link_up()
        assert wait_for(vm, '[ "$(cat /sys/class/net/eth*/carrier | sort -u)" = 1 ]')
        with vm.pci_model("pci0") as first:
            first.link_down()
        assert wait_for(vm, '[ "$(cat /sys/class/net/eth*/carrier | tr -d "\\n")" != 11 ]')


def test_a_killed_backend_is_reported_not_waited_for(artifacts: Artifacts) -> None:
    vm = boot(artifacts, "rtl8111")
    try:
        pid = vm.pci[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(PciBackendDied) as caught:
            for _ in range(50):
                vm.run("cat /sys/class/net/eth0/carrier", timeout=10)
                time.sleep(0.05)
        assert time.monotonic() - started < 10
        assert "pci0 (rtl8111) was killed by signal 9" in str(caught.value)
        assert not vm.alive
    finally:
        vm.kill()


def test_trace_names_registers(artifacts: Artifacts, tmp_path: Path) -> None:
    trace = tmp_path / "r8169.trace"
    with boot(artifacts, "rtl8111", trace=trace) as vm:
        with vm.pci_model() as model:
            model.link_down()
        assert carrier_is(vm, 0)
    shown = subprocess.run(
        [UMLHARNESS, "trace", str(trace)], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "# pci0: rtl8111 10ec:8168"
    assert any("CFG_READ    cfg 0x000 VendorID+DeviceID -> 0x816810ec" in line for line in lines)
    assert any("MMIO_READ   bar2 0x0040 TxConfig -> 0x3c000000" in line for line in lines)
    assert any("IntrStatus[LinkChg]" in line and "MMIO_WRITE" in line for line in lines)
    assert any(" MSI " in line for line in lines)


def test_boot_acceptance_from_the_command_line() -> None:
    done = subprocess.run(
        [
            UMLHARNESS,
            "boot",
            "--pci",
            "rtl8111",
            "--run",
            "ip link",
            "--run",
            "cat /sys/bus/pci/devices/*/vendor",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "eth0:" in done.stdout and "link/ether 00:e0:4c:68:11:01" in done.stdout
    assert "0x10ec" in done.stdout


def test_bad_pci_options_are_one_line_errors() -> None:
    for args, message in (
        (["--pci", "nosuch"], "no PCI model 'nosuch'; models: pcitest, replay, rtl8111"),
        (["--pci", "rtl8111,speed=10"], "unknown option speed (options: mac, link, host, wire)"),
        (["--pci", "rtl8111,mac=zz"], "mac=zz: six hex bytes"),
        (["--pci", "rtl8111,host=192.0.2.300/24"], "an IPv4 address with its prefix"),
        (["--pci", "rtl8111,wire=a/b"], "wire=a/b: a wire's name is 1 to 32 letters"),
        (["--trace", "/nonexistent/trace"], "--trace records PCI accesses: add a --pci device"),
    ):
        done = subprocess.run(
            [UMLHARNESS, "boot", *args, "--run", "true"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_console_boot_then_sim_toggles_then_stop(tmp_path: Path) -> None:
    """The acceptance as a user runs it: `umlharness boot --pci rtl8111` in one shell,
    `sim link toggle` four times in another, then `umlharness stop`."""
    env = {**os.environ, "UMLHARNESS_RUN": str(tmp_path / "run")}
    log = (tmp_path / "boot.log").open("w")
    boot = subprocess.Popen(
        [UMLHARNESS, "boot", "--pci", "rtl8111", "--umid", "uh-accept"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while "Link is Up" not in (tmp_path / "boot.log").read_text():
            assert boot.poll() is None and time.monotonic() < deadline, "no link at boot"
            time.sleep(0.1)
        for expected in ("DOWN", "UP", "DOWN", "UP"):
            done = subprocess.run(
                [SIM, "link", "toggle"], capture_output=True, text=True, timeout=30, env=env
            )
            assert done.stdout.strip() == f"Changing Link Status to {expected}", done.stderr
        stopped = subprocess.run(
            [UMLHARNESS, "stop"], capture_output=True, text=True, timeout=30, env=env
        )
        assert stopped.returncode == 0, stopped.stderr
        boot.wait(timeout=30)
    finally:
        if boot.poll() is None:
            boot.kill()
            boot.wait()
        log.close()
    kernel = (tmp_path / "boot.log").read_text()
    assert LINK.findall(kernel)[:5] == ["Up", "Down", "Up", "Down", "Up"]
    assert "WARNING" not in kernel and powered_off(kernel)
    assert not (tmp_path / "run" / "uh-accept").exists()


@pytest.mark.uml(pci=["rtl8111"])
def test_the_plugins_rtl8111_fixture_drives_the_pci_model(uml: Instance, rtl8111: Any) -> None:
    rtl8111.link_down()
    assert carrier_is(uml, 0)
    rtl8111.link_up()
    assert carrier_is(uml, 1)
    assert rtl8111.link_state().up
