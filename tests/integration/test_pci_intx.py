"""INTx (legacy PCI interrupts) over UML's virt-pci: not delivered, on 6.1 nor 6.12.

virt-pci maps every pin of a device to an IRQ from `irq_alloc_desc`, which
no code gives an irq_chip or a flow handler: `request_irq` on it fails with
-ENOSYS (the IRQ's chip is `no_irq_chip`), and an INT message from the
device ends in `handle_bad_irq`. This is why models must offer MSI or MSI-X
(`PciFunction` refuses one without). If a kernel series starts delivering
INTx, this test fails on it: INTx can then be offered there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from umlharness import Artifacts, BootRequest, Instance
from umlharness.drivers import build_drivers
from umlharness.modtree import build_module_tree
from umlharness.pci import PciSpec
from umlharness.progress import QuietReporter

pytestmark = pytest.mark.slow

MODEL = "tests.integration.intx_model:IntxPciTest"

#: Test-only drivers: uhx_intx asks for INTx alone and says what it got.
DRIVERS = Path(__file__).parent.parent / "drivers"

PROBED = re.compile(
    r"uhx_intx \S+: pin (?P<pin>\d+) irq (?P<irq>\d+) vector (?P<vector>-?\d+) "
    r"chip (?P<chip>\S+) request_irq (?P<ret>-?\d+)"
)


@pytest.fixture
def intx_guest(artifacts: Artifacts) -> Iterator[Instance]:
    """A guest with the model and uhx_intx (built against its kernel) to load."""
    drivers = build_drivers(artifacts.kernel, [DRIVERS], QuietReporter())
    rootfs = replace(artifacts.rootfs, modules=build_module_tree(artifacts.kernel, drivers))
    request = BootRequest(artifacts.kernel, rootfs, pci=[PciSpec.parse(MODEL)])
    with Instance.boot(request) as vm:
        yield vm


def test_virt_pci_gives_intx_an_irq_no_driver_can_request(intx_guest: Instance) -> None:
    vm = intx_guest
    vm.check("modprobe uhx_intx")
    probed = PROBED.search(vm.dmesg())
    assert probed, vm.dmesg()
    # The PCI core hands out INTx (pin A, pdev->irq as the vector) ...
    assert probed["pin"] == "1" and probed["vector"] == probed["irq"] != "0"
    # ... on an IRQ with no chip: request_irq fails with -ENOSYS.
    assert (probed["chip"], probed["ret"]) == ("none", "-38"), probed[0]

    # The device's INT message reaches that IRQ's handle_bad_irq, not a driver.
    with vm.pci_model() as model:
        assert model.raise_intx()
    trap = f"unexpected IRQ trap at vector {int(probed['irq']):02x}"
    wait = f"dmesg | grep -q '{trap}' && exit 0; sleep 0.02"
    assert vm.run(f"for i in $(seq 100); do {wait}; done; exit 1").ok, vm.dmesg()
    assert "INTx handled" not in vm.dmesg()
