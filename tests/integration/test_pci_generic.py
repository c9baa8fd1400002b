"""The PCI transport on its own: uh_pcitest (standard PCI APIs only) against the pcitest model.

These tests boot through the pytest plugin (`@pytest.mark.uml(pci=[...])`),
as a driver developer's tests would.
"""

from __future__ import annotations

import re
import zlib

import pytest

from umlharness import Artifacts, BootRequest, Instance
from umlharness.errors import GuestCrashed
from umlharness.pci import MAX_DEVICES, PciModelError, PciSpec

pytestmark = pytest.mark.slow

DEVICE = "/sys/bus/pci/devices/0000:00:00.0"


def attr(vm: Instance, name: str, device: str = DEVICE) -> str:
    return vm.check(f"cat {device}/{name}").strip()


def store(vm: Instance, name: str, value: str, device: str = DEVICE) -> None:
    vm.check(f"echo '{value}' > {device}/{name}")


@pytest.mark.uml(pci=["pcitest"])
def test_binds_with_msix_and_every_width_reads_back(uml: Instance) -> None:
    assert uml.check(f"readlink {DEVICE}/driver").strip().endswith("/uh_pcitest")
    assert attr(uml, "irq_mode") == "msix 4"
    assert attr(uml, "widths").splitlines() == ["id ok", "8 ok", "16 ok", "32 ok", "64 ok"]
    assert "uh_pcitest 0000:00:00.0: ID 54504855, MSI-X with 4 vectors" in uml.kernel_log


@pytest.mark.uml(pci=["pcitest"])
def test_scratch_is_shared_with_the_model(uml: Instance) -> None:
    with uml.pci_model() as model:
        store(uml, "scratch", "0x12345678")
        assert model.scratch() == 0x12345678
        model.set_scratch(0xCAFEF00D)
        assert attr(uml, "scratch") == "0xcafef00d"


@pytest.mark.uml(pci=["pcitest"])
def test_no_posted_write_is_lost(uml: Instance) -> None:
    store(uml, "posted", "5000")
    assert attr(uml, "posted") == "writes 5000 count 5000 sum 12502500 expected 12502500"
    with uml.pci_model() as model:
        assert model.accumulated() == (5000, 12502500)


@pytest.mark.uml(pci=["pcitest"])
def test_memcpy_and_memset_io(uml: Instance) -> None:
    assert attr(uml, "window").splitlines() == ["copy ok", "memset ok"]


@pytest.mark.uml(pci=["pcitest"])
def test_each_msix_vector_reaches_its_handler(uml: Instance) -> None:
    for vector in range(4):
        store(uml, "raise_irq", str(vector))
    assert attr(uml, "irq_counts") == "1 1 1 1"
    with uml.pci_model() as model:
        assert model.raise_vector(2)  # raised from the host, not by the driver
    wait = f"[ \"$(cat {DEVICE}/irq_counts)\" = '1 1 2 1' ] && exit 0; sleep 0.02"
    assert uml.run(f"for i in $(seq 50); do {wait}; done; exit 1").ok
    rows = [row for row in uml.interrupts() if row.name == "uh_pcitest"]
    assert {row.kind for row in rows} == {"UM virtio PCIe MSI"}
    counts = {row.hwirq: row.count for row in rows}
    assert counts == {0: 1, 1: 1, 2: 2, 3: 1}, uml.check("cat /proc/interrupts")


@pytest.mark.uml(pci=["pcitest,irq=msi"])
def test_msi_with_its_single_vector(uml: Instance) -> None:
    assert attr(uml, "irq_mode") == "msi 1"
    store(uml, "raise_irq", "0")
    store(uml, "dma", "to 4096 irq")
    assert attr(uml, "dma").endswith("irq ok")
    assert attr(uml, "irq_counts") == "2 0 0 0"


@pytest.mark.uml(pci=["pcitest"])
def test_dma_both_ways(uml: Instance) -> None:
    with uml.pci_model() as model:
        store(uml, "dma", "to 65536")
        line = attr(uml, "dma")
        match = re.match(r"to 65536 status 1 crc_dev (\S+) crc_drv (\S+) ns \d+$", line)
        assert match and match[1] == match[2], line
        expected = zlib.crc32(bytes((i * 7 + 3) & 0xFF for i in range(65536)))
        assert model.last_dma_crc() == expected == int(match[1], 16)

        store(uml, "dma", "from 300000 99 irq")
        line = attr(uml, "dma")
        assert re.match(
            r"from 300000 status 1 crc_dev (\S+) crc_drv \1 pattern ok ns \d+ irq ok$", line
        ), line


@pytest.mark.uml(pci=["pcitest"])
def test_bad_dma_is_reported_not_fatal(uml: Instance) -> None:
    store(uml, "scratch", "1")  # the device still answers afterwards
    assert uml.run(f"echo 'to 0' > {DEVICE}/dma").exit_code != 0  # refused by the driver
    assert attr(uml, "scratch") == "0x00000001"


@pytest.mark.uml(pci=["pcitest"])
def test_rmmod_and_reload(uml: Instance) -> None:
    uml.check("rmmod uh_pcitest")
    assert uml.run(f"[ -e {DEVICE}/driver ]").exit_code != 0
    uml.check("modprobe uh_pcitest")
    assert attr(uml, "widths").splitlines()[-1] == "64 ok"
    store(uml, "raise_irq", "3")
    assert attr(uml, "irq_counts") == "0 0 0 1"


@pytest.mark.uml(pci=["pcitest", "pcitest,irq=msi", "rtl8111"])
def test_three_devices_at_once(uml: Instance) -> None:
    devices = uml.check("ls /sys/bus/pci/devices").split()
    assert devices == ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0"]
    modes = sorted(attr(uml, "irq_mode", f"/sys/bus/pci/devices/{d}") for d in devices[:2])
    assert modes == ["msi 1", "msix 4"]
    for device in devices[:2]:
        store(uml, "posted", "300", f"/sys/bus/pci/devices/{device}")
        assert attr(uml, "posted", f"/sys/bus/pci/devices/{device}").startswith(
            "writes 300 count 300"
        )
    assert uml.check("cat /sys/class/net/eth0/address").strip() == "00:e0:4c:68:11:01"


@pytest.mark.uml(pci=["pcitest"] * MAX_DEVICES)
def test_as_many_devices_as_virt_pci_takes(uml: Instance) -> None:
    devices = sorted(uml.check("ls /sys/bus/pci/devices").split())
    assert devices == [f"0000:00:{slot:02x}.0" for slot in range(MAX_DEVICES)]
    for slot, device in enumerate(devices):
        path = f"/sys/bus/pci/devices/{device}"
        store(uml, "scratch", str(slot), path)
        store(uml, "raise_irq", "1", path)
        assert attr(uml, "irq_counts", path) == "0 1 0 0"
    for slot in range(MAX_DEVICES):
        with uml.pci_model(f"pci{slot}") as model:
            assert model.scratch() == slot


@pytest.mark.uml(pci=["tests.unit.faulty_model:FaultyPciTest"])
def test_an_exception_in_a_model_fails_the_run(uml: Instance) -> None:
    with pytest.raises(PciModelError) as caught:
        store(uml, "raise_irq", "0")
    message = str(caught.value)
    assert "PCI model pci0 (tests.unit.faulty_model:FaultyPciTest) raised:" in message
    assert "ZeroDivisionError: integer division or modulo by zero" in message
    assert caught.value.log is not None
    assert "return new // 0" in caught.value.log.read_text()


SLOW = "tests.unit.faulty_model:SlowPciTest"


@pytest.mark.uml(kernel=">=6.3", pci=[SLOW])
def test_a_slow_model_is_waited_for(uml: Instance) -> None:
    store(uml, "posted", "10")
    assert attr(uml, "posted") == "writes 10 count 10 sum 55 expected 55"
    assert "virt_pci.max_delay_us=2000000" in uml.check("cat /proc/cmdline")


@pytest.mark.uml(kernel=">=6.3")
def test_a_model_slower_than_the_pci_timeout_fails_the_access(artifacts: Artifacts) -> None:
    request = BootRequest(
        artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse(SLOW)], pci_timeout=0.05
    )
    with pytest.raises(GuestCrashed) as crashed, Instance.boot(request) as vm:
        store(vm, "posted", "10")
        attr(vm, "posted")
    assert "um virt-pci delay" in crashed.value.trace
