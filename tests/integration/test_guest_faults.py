"""The kernel's fault injection aimed at one module (umlharness/guest_faults.py): r8169's
probe and open paths when an allocation fails."""

from __future__ import annotations

import pytest

from umlharness import Instance
from umlharness.errors import GuestError

pytestmark = pytest.mark.slow
AIMED = pytest.mark.uml(kernel=">=6.12", pci=["rtl8111"])

DEVICE = "0000:00:00.0"
DRIVER = "/sys/bus/pci/drivers/r8169"


@AIMED
def test_a_failed_slab_allocation_fails_r8169s_probe_and_a_retry_binds(uml: Instance) -> None:
    uml.check(f"echo {DEVICE} > {DRIVER}/unbind")
    with uml.inject_faults("r8169", kind="slab") as faults:
        bound = uml.run(f"echo {DEVICE} > {DRIVER}/bind")
    assert faults.injected == 1
    assert not bound.ok
    assert "failed with error -12" in uml.dmesg()  # ENOMEM, worded per kernel
    uml.check(f"echo {DEVICE} > {DRIVER}/bind")
    uml.check("ip link show eth0")


@AIMED
def test_a_failed_page_allocation_fails_r8169s_open_and_a_retry_opens(uml: Instance) -> None:
    uml.check("ip link set eth0 down")  # the harness brings interfaces up at boot
    with uml.inject_faults("r8169", kind="page") as faults:
        opened = uml.run("ip link set eth0 up")
    assert faults.injected >= 1
    assert not opened.ok
    uml.check("ip link set eth0 up")
    assert "UP" in uml.check("ip link show eth0")


@AIMED
def test_faults_need_the_module_loaded(uml: Instance) -> None:
    with (
        pytest.raises(GuestError, match="module uh_nothing is not loaded"),
        uml.inject_faults("uh_nothing"),
    ):
        pass


@pytest.mark.uml(kernel="<6.12", pci=["rtl8111"])
def test_a_kernel_without_the_stacktrace_filter_says_so(uml: Instance) -> None:
    with (
        pytest.raises(GuestError, match="no fault-injection stacktrace filter"),
        uml.inject_faults("r8169"),
    ):
        pass
