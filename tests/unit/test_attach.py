"""Finding a device: through the instance registry, or from explicit files."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.attach import Target, attach, map_iomem, resolve
from simulators.errors import SimulatorError
from simulators.rtl8111.regs import RTL8111
from umlharness.errors import HarnessError
from umlharness_shared import registry

from .conftest import GuestRecorder


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    return tmp_path / "run"


@pytest.fixture
def fake_instance(recorded_guest: GuestRecorder) -> GuestRecorder:
    return recorded_guest


def test_the_only_instance_and_the_mock_region_by_default(
    tmp_path: Path, fake_instance: GuestRecorder
) -> None:
    fake_instance("t1", tmp_path / "umid", {"mock": str(tmp_path / "iomem-mock")})
    assert resolve() == Target(tmp_path / "iomem-mock", tmp_path / "umid" / "mock", "mock", "t1")


def test_umid_and_region_pick_one(tmp_path: Path, fake_instance: GuestRecorder) -> None:
    fake_instance("t1", tmp_path / "u1", {"mock": "/x"})
    fake_instance("t2", tmp_path / "u2", {"mock": "/y", "nic": str(tmp_path / "nic")})
    target = resolve(umid="t2", region="nic")
    assert (target.iomem, target.irq) == (tmp_path / "nic", tmp_path / "u2" / "nic")
    with pytest.raises(HarnessError, match="pick one with --umid"):
        resolve()


def test_stop_without_a_umid_refuses_when_several_run(
    tmp_path: Path, fake_instance: GuestRecorder
) -> None:
    fake_instance("t1", tmp_path / "u1", {})
    fake_instance("t2", tmp_path / "u2", {})
    with pytest.raises(
        HarnessError,
        match=r"2 instances are running \(t1, t2\): pick one with `umlharness stop UMID`",
    ):
        registry.stop(None)
    assert [info.umid for info in registry.instances()] == ["t1", "t2"]


def test_missing_region_lists_the_regions(tmp_path: Path, fake_instance: GuestRecorder) -> None:
    fake_instance("t1", tmp_path / "umid", {"mock": "/x", "nic": "/y"})
    with pytest.raises(SimulatorError, match="instance t1 has no iomem region 'eth': its regions"):
        resolve(region="eth")
    fake_instance("t2", tmp_path / "umid2", {})
    with pytest.raises(SimulatorError, match="booted without --iomem"):
        resolve(umid="t2")


def test_no_instance_at_all() -> None:
    with pytest.raises(HarnessError, match="no running instance"):
        resolve()


def test_explicit_files_bypass_the_registry(tmp_path: Path) -> None:
    target = resolve(iomem=tmp_path / "f", irq=tmp_path / "s")
    assert target == Target(tmp_path / "f", tmp_path / "s", "mock", None)
    assert resolve(iomem=tmp_path / "f").irq is None  # registers only


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"umid": "t1", "iomem": Path("f"), "irq": Path("s")}, "drop --umid"),
        ({"region": "nic", "iomem": Path("f")}, "drop --umid and --region"),
        ({"irq": Path("s")}, "--irq SOCKET needs the device's --iomem FILE"),
    ],
)
def test_conflicting_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        resolve(**options)  # type: ignore[arg-type]


def test_map_iomem_checks_the_file(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="does not exist"):
        map_iomem(tmp_path / "nope")
    with pytest.raises(SimulatorError, match="not a regular file"):
        map_iomem(tmp_path)
    (tmp_path / "empty").touch()
    with pytest.raises(SimulatorError, match="is empty"):
        map_iomem(tmp_path / "empty")


def test_attach_maps_the_file_shared(tmp_path: Path) -> None:
    path = tmp_path / "iomem"
    path.write_bytes(b"\0" * 4096)
    with attach(RTL8111, iomem=path, irq=tmp_path / "s") as device:
        device.regs.write("ChipCmd", 0x0C)
        assert device.irq is not None and device.irq.path == tmp_path / "s"
    assert path.read_bytes()[0x37] == 0x0C


def test_attach_refuses_a_file_smaller_than_the_map(tmp_path: Path) -> None:
    path = tmp_path / "iomem"
    path.write_bytes(b"\0" * 0x80)
    with pytest.raises(SimulatorError, match=r"is 128 bytes, smaller than the register map"):
        attach(RTL8111, iomem=path)
