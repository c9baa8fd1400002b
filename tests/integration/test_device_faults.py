"""Faults from the device's side (simulators/misbehave.py), against r8169 over PCI and
uh_rtl8111 on iomem: what each driver does with them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from simulators.attach import attach
from simulators.errors import AckTimeout
from simulators.handle import open_model
from simulators.net.nic import Nic
from simulators.rtl8111.device import DEVICE
from simulators.rtl8111.model import Rtl8111
from simulators.rtl8111.regs import RTL8111
from tests.integration.test_rtl8111 import settles_to
from umlharness import Artifacts, BootRequest, Instance, IomemSpec, PciSpec
from umlharness.errors import GuestCrashed

pytestmark = pytest.mark.slow

HOST, GUEST = "192.0.2.1", "192.0.2.2"
NIC = f"rtl8111,host={HOST}/24"
ON_PCI = pytest.mark.uml(pci=[NIC])


def bring_up(uml: Instance) -> None:
    uml.check(f"ip addr add {GUEST}/24 dev eth0 && ip link set eth0 up")
    assert carrier_becomes(uml, "1")


def carrier_becomes(uml: Instance, value: str) -> bool:
    return settles_to(uml, "carrier", value, seconds=5)


def r8169_interrupts(uml: Instance) -> int:
    return sum(row.count for row in uml.interrupts() if "eth0" in row.name or "r8169" in row.name)


@ON_PCI
def test_a_lost_msi_leaves_the_link_change_to_the_next_interrupt(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    model = nic.model
    model.set_ack_timeout(0.5)
    model.misbehave.drop_interrupts(1)
    with pytest.raises(AckTimeout):
        model.link_down()  # its MSI never arrives: r8169 does not know
    assert uml.check("cat /sys/class/net/eth0/carrier").strip() == "1"
    # Any later interrupt runs the handler, which finds LinkChg in IntrStatus.
    assert model.misbehave.spurious_interrupts(1) == 1
    assert carrier_becomes(uml, "0")


@ON_PCI
def test_spurious_msis_are_not_claimed_and_the_driver_carries_on(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    before = r8169_interrupts(uml)
    assert nic.model.misbehave.spurious_interrupts(50) == 50
    deadline = time.monotonic() + 5
    while r8169_interrupts(uml) < before + 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r8169_interrupts(uml) >= before + 50
    assert "1 packets received" in uml.check(f"ping -c 1 -W 2 {HOST}")


@ON_PCI
def test_r8169_takes_all_ones_for_a_device_that_is_gone(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    model = nic.model
    before = r8169_interrupts(uml)
    model.misbehave.gone()
    assert model.misbehave.is_gone()
    # Its handler reads IntrStatus as 0xffff and leaves the interrupt alone.
    assert model.misbehave.spurious_interrupts(1) == 1
    deadline = time.monotonic() + 5
    while r8169_interrupts(uml) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r8169_interrupts(uml) == before + 1
    model.misbehave.back()
    assert "1 packets received" in uml.check(f"ping -c 1 -W 2 {HOST}")


def test_an_interrupt_storm_gets_the_irq_disabled_and_the_run_failed(
    artifacts: Artifacts,
) -> None:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse(NIC)])
    with pytest.raises(GuestCrashed) as crashed, Instance.boot(request) as vm:
        bring_up(vm)
        with open_model(DEVICE, umid=vm.umid) as handle:
            handle.model.misbehave.spurious_interrupts(100_500)
        vm.check("sleep 1")
    assert crashed.value.kind == "disabled IRQ"
    assert "rtl8169_interrupt" in crashed.value.trace


def counter(uml: Instance, name: str) -> int:
    return int(uml.check(f"cat /sys/class/net/eth0/statistics/{name}"))


def pings(uml: Instance) -> bool:
    return uml.run(f"ping -c 1 -W 1 {HOST}").ok


@ON_PCI
def test_a_lost_tx_write_back_leaves_r8169_waiting_for_that_frame(uml: Instance) -> None:
    """The device sends the frame but its write-back of the descriptor is lost:
    r8169 counts no frame sent from then on (it completes frames in ring order,
    and the first one never looks done). 6.12 keeps sending; 6.1 stops after
    two more frames, its queue stopped while they all seem in flight."""
    bring_up(uml)
    model = uml.pci_model()
    assert pings(uml)
    sent = counter(uml, "tx_packets")
    model.misbehave.lose_dma(1)
    answered = [pings(uml) for _ in range(4)]
    assert model.misbehave.dma_faulted()[0][:1] == ("lost",)
    assert model.misbehave.dma_faulted()[0][2] == 16  # one descriptor
    assert counter(uml, "tx_packets") == sent
    if uml.request.kernel.version >= (6, 12):
        assert answered == [True] * 4
    else:
        assert answered == [True, True, False, False]


@ON_PCI
def test_a_lost_receive_buffer_write_costs_r8169_one_frame(uml: Instance) -> None:
    """The reply's bytes never reach the buffer, but its descriptor says they did:
    the stack gets the buffer's old bytes, drops them, and the next reply is fine."""
    bring_up(uml)
    model = uml.pci_model()
    assert pings(uml)
    model.misbehave.lose_dma(2)  # the request's write-back, then the reply's frame
    assert not pings(uml)
    assert [length for _, _, length in model.misbehave.dma_faulted()] == [16, 102]
    assert pings(uml)


def icmp_counters(uml: Instance) -> dict[str, int]:
    names, values = [
        line.split()[1:] for line in uml.check("grep Icmp: /proc/net/snmp").splitlines()
    ]
    return dict(zip(names, map(int, values), strict=True))


@ON_PCI
def test_a_reply_cut_short_is_dropped_for_its_checksum(uml: Instance) -> None:
    """Half the reply's bytes reach the buffer; the rest is what the buffer held.
    The kernel drops it on its ICMP checksum. (busybox's ping reads a raw socket,
    which gets its copy before that check: it prints the reply all the same.)"""
    bring_up(uml)
    model = uml.pci_model()
    assert pings(uml)
    before = icmp_counters(uml)
    model.misbehave.short_dma(2)  # the request's write-back, then the reply's frame
    uml.run(f"ping -c 1 -W 1 -p a5 {HOST}")
    after = icmp_counters(uml)
    assert [length for _, _, length in model.misbehave.dma_faulted()] == [16, 102]
    assert after["InCsumErrors"] == before["InCsumErrors"] + 1
    assert after["InEchoReps"] == before["InEchoReps"]


def gone_within(uml: Instance, path: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not uml.run(f"test -e {path}").ok:
            return True
        time.sleep(0.05)
    return False


@ON_PCI
def test_r8169_pulled_out_while_it_pings_is_removed_cleanly(uml: Instance) -> None:
    """Surprise removal: the backend closes its connection, UML removes the device,
    r8169's remove runs with the device answering nothing; no oops, no WARN (UML
    WARNed in vu_del_vqs before the patch 6.1/0006, 6.12/0007)."""
    bring_up(uml)
    uml.check(f"(ping -i 0.1 -c 100 {HOST} > /tmp/ping.log 2>&1 &)")
    time.sleep(0.3)
    uml.unplug()
    assert gone_within(uml, "/sys/class/net/eth0")
    assert uml.check("ls /sys/bus/pci/devices").strip() == ""
    assert "Link is Down" in uml.dmesg()
    uml.check("sleep 0.3")  # the ping finds no route: it goes on without a device
    assert "unreachable" in uml.check("cat /tmp/ping.log")


@pytest.mark.uml(pci=["pcitest"])
def test_uh_pcitest_pulled_out_runs_its_remove(uml: Instance) -> None:
    device = "/sys/bus/pci/devices/0000:00:00.0"
    uml.check(f"echo 7 > {device}/scratch")
    uml.unplug()
    assert gone_within(uml, device)
    assert "uh_pcitest" in uml.check("lsmod")  # the module stays, its device is gone
    uml.check("rmmod uh_pcitest")


def test_reads_answered_later_than_the_kernel_waits_fail_the_run(artifacts: Artifacts) -> None:
    """6.1 waits 40 ms for a register, 6.3 and later --pci-timeout (here 50 ms)."""
    request = BootRequest(artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse(NIC)])
    if request.kernel_has_pci_timeout():
        request = dataclasses.replace(request, pci_timeout=0.05)
    with pytest.raises(GuestCrashed) as crashed, Instance.boot(request) as vm:
        bring_up(vm)
        with open_model(DEVICE, umid=vm.umid) as handle:
            handle.model.misbehave.slow_reads(0.2)
            handle.model.misbehave.spurious_interrupts(1)  # r8169's handler reads IntrStatus
            vm.check("sleep 1")
    assert "um virt-pci delay" in crashed.value.trace


@pytest.fixture
def iomem_nic(artifacts: Artifacts) -> Iterator[tuple[Instance, Rtl8111]]:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")])
    with (
        Instance.boot(request) as vm,
        attach(RTL8111, umid=vm.umid, device="RTL8111") as attached,
    ):
        yield vm, Rtl8111(attached.regs, attached.irq)


def test_a_lost_iomem_interrupt_is_sent_again_while_the_level_stays_up(
    iomem_nic: tuple[Instance, Rtl8111],
) -> None:
    vm, model = iomem_nic
    vm.check("ip link set eth0 up")
    model.link_up()
    assert carrier_becomes(vm, "1")
    model.misbehave.drop_interrupts(1)
    waited = model.link_down()
    assert waited >= model.resend_interval  # the second message got through
    assert model.interrupt.dropped == 1
    assert carrier_becomes(vm, "0")


def test_an_iomem_device_that_is_gone_reads_all_ones_and_comes_back(
    iomem_nic: tuple[Instance, Rtl8111],
) -> None:
    vm, model = iomem_nic
    model.link_up()
    mac = vm.check("cat /sys/class/net/eth0/address").strip()
    model.misbehave.gone()
    assert model.regs.read("MAC0") == 0xFF
    model.misbehave.back()
    assert model.regs.read("MAC0") == int(mac[:2], 16)
