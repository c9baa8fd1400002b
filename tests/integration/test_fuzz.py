"""Fuzzing from the device's side (umlharness/fuzz.py), real guests of the KASAN kernel.

A short campaign against each of the project's drivers finds nothing; one
against tests/crashers/uh_fuzzme, which indexes a table with a register,
finds its crash, shrinks it and saves a reproducer that replays it with
no model, every time, and that pytest collects as a failing test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import construct as cs
import pytest

from umlharness.artifacts import ArtifactRequest, Artifacts, prepare
from umlharness.fuzz import Campaign, FuzzTarget
from umlharness.kernel import KernelRequest
from umlharness.paths import cache_dir
from umlharness.reproducer import Reproducer, replay

PROJECT = Path(__file__).parents[2]
DRIVERS = (PROJECT / "drivers", PROJECT / "tests" / "crashers")

FUZZME = FuzzTarget(
    "uh_fuzzme",
    "iomem",
    "fuzzme",
    workload=(
        "modprobe uh_fuzzme",
        "cat /sys/devices/platform/uh_fuzzme/mode",
        "rmmod uh_fuzzme",
    ),
    layout=cs.Struct("ID" / cs.Int32ul, "MODE" / cs.Int32ul),
)
#: The cache, found before pytester moves HOME.
CACHE = str(cache_dir())
#: Examples per driver in CI: about a second each.
SHORT = 12

Fuzz = Callable[..., Campaign]


@pytest.mark.parametrize("driver", ["uh_thermo", "uh_rtl8111", "uh_fpga", "uh_pcitest"])
def test_a_short_campaign_finds_no_crash(uml_fuzz: Fuzz, driver: str, tmp_path: Path) -> None:
    campaign = uml_fuzz(driver, examples=SHORT, seed=1, out=tmp_path)
    campaign.check()
    assert campaign.ran >= SHORT


@pytest.fixture(scope="module")
def with_crashers(uml_kernel: str) -> Artifacts:
    """The KASAN kernel, with the crashers built as well as the project's drivers."""
    return prepare(ArtifactRequest(KernelRequest(series=uml_kernel, variant="kasan"), DRIVERS))


@pytest.fixture(scope="module")
def fuzzme_found(with_crashers: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    out = tmp_path_factory.mktemp("fuzzme")
    return Campaign(FUZZME, with_crashers, out, examples=30, seed=1).run()


def test_a_crash_is_found_shrunk_and_replayed_10_times_out_of_10(fuzzme_found: Campaign) -> None:
    campaign = fuzzme_found
    assert len(campaign.found) == 1, campaign.found
    ((sig, path),) = campaign.found.items()
    reproducer = Reproducer.load(path)
    assert reproducer.crash["kind"] in ("panic", "oops", "KASAN report"), sig
    # Shrunk to one action: a mode past the table's four.
    actions = [action for step in reproducer.script for action in step.split("; ") if action]
    assert len(actions) == 1 and actions[0].startswith("poke MODE "), reproducer.script
    assert int.from_bytes(bytes.fromhex(actions[0].split()[-1]), "little") >= 4
    kernel, rootfs = campaign.artifacts.kernel, campaign.artifacts.rootfs
    replayed = [replay(reproducer, kernel, rootfs).signature for _ in range(10)]
    assert replayed == [sig] * 10


def test_pytest_collects_a_reproducer_and_fails_while_the_driver_crashes(
    fuzzme_found: Campaign,
    pytester: pytest.Pytester,
    uml_kernel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytester gives the run a HOME of its own: it would build everything again.
    monkeypatch.setenv("UMLHARNESS_CACHE", CACHE)
    (path,) = fuzzme_found.found.values()
    shutil.copy(path, pytester.path / path.name)
    result = pytester.runpytest_subprocess(
        f"--uml-drivers={':'.join(map(str, DRIVERS))}",
        f"--uml-kernel={uml_kernel}",  # the reproducer's: another would skip it
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    result.assert_outcomes(failed=1)
    assert "the driver still crashes: " in result.stdout.str()
