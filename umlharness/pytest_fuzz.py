"""pytest plugin, fuzzing half: reproducers as regression tests, and campaigns in tests.

- Every `*.uhrepro` file under the paths pytest collects is a test: its
  crash is played back (umlharness/reproducer.py) in a fresh guest of the
  kernel it was found on, and the test fails while the driver still
  crashes. Keep a fixed bug's reproducer beside your tests.
- The `uml_fuzz` fixture runs a campaign (umlharness/fuzz.py) on the
  KASAN variant of the test's kernel; `campaign.check()` fails the test
  with each distinct crash and its reproducer, saved under
  `<rootdir>/fuzz-crashes`.

        def test_no_crash_from_weird_registers(uml_fuzz):
            uml_fuzz(TARGET, examples=20).check()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .artifacts import Artifacts
from .fuzz import Campaign, FuzzTarget
from .fuzz_targets import fuzz_target
from .pytest_plugin import artifacts_for, session_kernels
from .reproducer import SUFFIX, Replayed, Reproducer, replay

#: Where campaigns run from tests leave their reproducers, under pytest's rootdir.
CRASHES_DIR = "fuzz-crashes"
_BUILT = pytest.StashKey[dict[tuple[str, str], Artifacts]]()


def _artifacts(config: pytest.Config, kernel: str, variant: str) -> Artifacts:
    built = config.stash.setdefault(_BUILT, {})
    if (kernel, variant) not in built:
        built[kernel, variant] = artifacts_for(config, kernel, variant)
    return built[kernel, variant]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        return ReproducerFile.from_parent(parent, path=file_path)
    return None


class ReproducerFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return [ReproducerItem.from_parent(self, name=self.path.name)]


class StillCrashes(Exception):
    def __init__(self, replayed: Replayed) -> None:
        super().__init__(replayed.signature)
        self.replayed = replayed


class ReproducerItem(pytest.Item):
    """Replays its file; fails if the guest crashes (or hangs) again."""

    def runtest(self) -> None:
        found = Reproducer.load(self.path)
        if found.series not in session_kernels(self.config):
            pytest.skip(f"found on Linux {found.series}, which this session does not run")
        artifacts = _artifacts(self.config, found.series, found.variant)
        replayed = replay(found, artifacts.kernel, artifacts.rootfs)
        if replayed.crashed:
            raise StillCrashes(replayed)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, StillCrashes):
            replayed = excinfo.value.replayed
            return f"the driver still crashes: {replayed.signature}\n{replayed.trace}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"replay {self.path.name}"


@pytest.fixture
def uml_fuzz(pytestconfig: pytest.Config, uml_kernel: str) -> Callable[..., Campaign]:
    """Runs a campaign against a target (a FuzzTarget or a built-in's name)."""

    def run(
        target: FuzzTarget | str,
        examples: int = 20,
        seed: int | None = None,
        out: Path | None = None,
    ) -> Campaign:
        chosen = fuzz_target(target) if isinstance(target, str) else target
        artifacts = _artifacts(pytestconfig, uml_kernel, "kasan")
        out = out or Path(pytestconfig.rootpath) / CRASHES_DIR
        return Campaign(chosen, artifacts, out, examples, seed).run()

    return run
