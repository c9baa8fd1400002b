from pathlib import Path

import pytest

from umlharness.errors import HarnessError
from umlharness.iomem import DEFAULT_SIZE, IomemSpec, check_unique, parse_size, region_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4096", 4096), ("0x1000", 4096), ("64K", 65536), ("1m", 1 << 20), ("2G", 2 << 30)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "1.5M", "12Q", "-1", "M"])
def test_bad_size_is_one_clear_error(text: str) -> None:
    with pytest.raises(HarnessError, match="bad size"):
        parse_size(text)


def test_name_only_gets_default_size() -> None:
    assert IomemSpec.parse("mock") == IomemSpec("mock", None, DEFAULT_SIZE)


def test_name_and_size() -> None:
    assert IomemSpec.parse("fpga0:64K") == IomemSpec("fpga0", None, 65536)


def test_name_and_file(tmp_path: Path) -> None:
    assert IomemSpec.parse(f"mock={tmp_path}/x") == IomemSpec("mock", tmp_path / "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad-name", "must be a C identifier"),
        ("mock:0", "between 1 byte and 1G"),
        ("mock:4G", "between 1 byte and 1G"),
        ("mock:", "empty size"),
        ("mock=/tmp/f:4K", "drop ':4K'"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        IomemSpec.parse(text)


def test_fresh_file_is_zeroed_at_size(tmp_path: Path) -> None:
    path = IomemSpec.parse("mock:8K").materialise(tmp_path)
    assert path.read_bytes() == bytes(8192)


def test_missing_user_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        IomemSpec("mock", tmp_path / "nope").materialise(tmp_path)


def test_unwritable_user_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ro"
    target.write_bytes(b"\0" * 16)
    monkeypatch.setattr("os.access", lambda path, mode: False)
    with pytest.raises(HarnessError, match="not readable and writable"):
        IomemSpec("mock", target).materialise(tmp_path)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(HarnessError, match="given twice"):
        check_unique([IomemSpec("a"), IomemSpec("a")])


def test_region_size_is_rounded_up_plus_a_page() -> None:
    assert region_size(1) == 8192
    assert region_size(4096) == 8192
    assert region_size(1 << 20) == (1 << 20) + 4096
