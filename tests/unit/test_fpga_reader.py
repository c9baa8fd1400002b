"""fpga_reader's CRC-32, built on the host as the rootfs builds it, against zlib's."""

from __future__ import annotations

import os
import random
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.host_builds import build_on_host

SOURCE = Path(__file__).resolve().parents[2] / "userspace" / "fpga_reader" / "fpga_reader.c"
LENGTHS = [0, 1, 15, 16, 28, 63, 64, 65, 127, 128, 1000, 16356, 65563]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_on_host(SOURCE, tmp_path_factory)


@pytest.mark.parametrize("impl", ["default", "table"])
def test_crc_matches_zlib(reader: Path, tmp_path: Path, impl: str) -> None:
    data_file = tmp_path / "data"
    rng = random.Random(1)
    used = set()
    for length in LENGTHS:
        data = rng.randbytes(length)
        data_file.write_bytes(data)
        out = subprocess.run(
            [str(reader), "--crc", str(data_file)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "FPGA_READER_CRC": impl},
        ).stdout.split()
        assert int(out[0], 16) == zlib.crc32(data), (impl, length)
        used.add(out[1])
    assert used == ({"table"} if impl == "table" else used)


def test_usage_errors_exit_2(reader: Path) -> None:
    assert subprocess.run([str(reader)], capture_output=True).returncode == 2
    assert subprocess.run([str(reader), "--dev"], capture_output=True).returncode == 2
    missing = subprocess.run([str(reader), "--dev", "/nonexistent"], capture_output=True)
    assert missing.returncode == 2 and b"/nonexistent" in missing.stderr
