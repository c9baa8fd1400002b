import threading
from pathlib import Path

import pytest

from umlharness.cache import CacheEntry, digest
from umlharness.progress import Reporter


def test_digest_depends_on_order_and_boundaries() -> None:
    assert digest(["ab", "c"]) != digest(["a", "bc"])
    assert digest(["a", "b"]) != digest(["b", "a"])
    assert digest(["a", b"b"]) == digest([b"a", "b"])


def test_builds_once_then_reuses(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(out: Path, log: Path) -> None:
        calls.append(out)
        (out / "artefact").write_text("x")

    entry = CacheEntry(tmp_path, "things", "k1")
    path = entry.ensure(build)
    assert (path / "artefact").read_text() == "x"
    assert entry.ensure(build) == path
    assert len(calls) == 1


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(out: Path, log: Path) -> None:
        (out / "half").write_text("x")
        raise RuntimeError("boom")

    entry = CacheEntry(tmp_path, "things", "k2")
    with pytest.raises(RuntimeError):
        entry.ensure(build)
    assert not entry.ready
    assert [p.name for p in (tmp_path / "things").iterdir()] == ["k2.lock"]
    assert (tmp_path / "logs" / "things-k2.log").exists()


def test_concurrent_builders_build_once(tmp_path: Path) -> None:
    started = threading.Barrier(4)
    calls: list[int] = []

    def build(out: Path, log: Path) -> None:
        calls.append(1)
        (out / "artefact").write_text("x")

    def worker() -> None:
        started.wait()
        CacheEntry(tmp_path, "things", "k3").ensure(build)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_stale_temporaries_of_dead_builders_are_removed(tmp_path: Path) -> None:
    kind = tmp_path / "things"
    stale = kind / ".tmp-k4-999999999-abc"
    stale.mkdir(parents=True)
    CacheEntry(tmp_path, "things", "k4").ensure(lambda out, log: None)
    assert not stale.exists()


class Notes(Reporter):
    def __init__(self) -> None:
        self.phases: list[str] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append(name)

    def advance(self, units: int = 1, detail: str = "") -> None:
        pass

    def done(self, message: str) -> None:
        pass


@pytest.mark.parametrize("damage", ["truncate", "rewrite", "remove", "chmod"])
def test_a_damaged_cache_entry_is_rebuilt_saying_why(tmp_path: Path, damage: str) -> None:
    builds: list[Path] = []

    def build(out: Path, log: Path) -> None:
        builds.append(out)
        binary = out / "linux"
        binary.write_bytes(b"\x7fELF" + b"x" * 1000)
        binary.chmod(0o755)

    entry = CacheEntry(tmp_path, "kernels", "k", artefacts=("linux",), executable="linux")
    path = entry.ensure(build)
    binary = path / "linux"
    if damage == "truncate":
        binary.write_bytes(b"")
    elif damage == "rewrite":
        binary.write_bytes(b"\x7fELF" + b"y" * 1001)
    elif damage == "remove":
        binary.unlink()
    else:
        binary.chmod(0o644)
    assert entry.damage() is not None
    assert not entry.ready
    notes = Notes()
    assert entry.ensure(build, notes) == path
    assert len(builds) == 2
    assert entry.ready
    assert notes.phases == [
        f"cache entry {path} is damaged ({entry_damage(damage)}): rebuilding it"
    ]


def entry_damage(damage: str) -> str:
    return {
        "truncate": "linux changed after it was built (size 0, was 1004)",
        "rewrite": "linux changed after it was built (size 1005, was 1004)",
        "remove": "linux is missing",
        "chmod": "linux is not executable",
    }[damage]
