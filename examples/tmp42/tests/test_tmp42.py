"""tmp42's driver against the TMP42 model, over virtio-i2c in a UML guest."""

from __future__ import annotations

import pytest
from umlharness import Instance

from tmp42_model.model import Tmp42

pytestmark = pytest.mark.slow

HWMON = "/sys/class/hwmon/hwmon0"


@pytest.mark.uml(i2c=["tmp42@0x4a"])
def test_the_driver_binds_and_reports_the_models_temperature(uml: Instance, tmp42: Tmp42) -> None:
    assert uml.check(f"cat {HWMON}/name").strip() == "tmp42"
    assert uml.check(f"cat {HWMON}/temp1_input").strip() == "21000"
    tmp42.set_celsius(-5.25)
    assert uml.check(f"cat {HWMON}/temp1_input").strip() == "-5250"


@pytest.mark.uml(i2c=["tmp42@0x4a"])
def test_probe_takes_the_chip_out_of_shutdown(uml: Instance, tmp42: Tmp42) -> None:
    assert not tmp42.shut_down()


@pytest.mark.uml(i2c=["tmp42@0x4a,chip_id=0x41"])
def test_a_chip_with_another_id_is_refused(uml: Instance) -> None:
    assert "tmp42 0-004a: unexpected chip ID 0x41" in uml.kernel_log
    assert uml.run(f"test -e {HWMON}").exit_code == 1
