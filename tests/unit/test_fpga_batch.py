"""Batches of reports: the vectorised CRC must equal zlib's, report by report."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from simulators.fpga import icd
from simulators.fpga.batch import ReportBatch, crc_delta


@pytest.mark.parametrize("samples", [0, 1, 16, 1000, 8176])
def test_batch_reports_are_well_formed(samples: int) -> None:
    template = icd.build_report(icd.ReportType.SAMPLES, 0, icd.samples_payload([7] * samples))
    batch = ReportBatch(template, capacity=64)
    stamps = (np.arange(64, dtype=np.uint64) * np.uint64(987_654_321)) + np.uint64(1 << 50)
    rows = batch.build(0xFFFF_FFE0, stamps, first_flags=icd.ReportFlag.DROPPED_BEFORE)
    for i, row in enumerate(rows):
        report = icd.parse_report(row.tobytes())
        assert report.crc_ok, i
        assert report.sequence == (0xFFFF_FFE0 + i) & 0xFFFF_FFFF  # wraps at 2**32
        assert report.header.timestamp_ns == int(stamps[i])
        assert report.header.flags == (1 if i == 0 else 0)
        assert list(report.payload.samples) == [7] * samples


def test_crc_delta_is_crc_raw_of_the_difference() -> None:
    length = 100
    message = bytearray(length)
    message[9] = 0xAB
    message[17] = 0x01
    crc_raw = zlib.crc32(bytes(message)) ^ zlib.crc32(bytes(length))
    deltas = {9: np.array([0xAB], np.uint8), 17: np.array([0x01], np.uint8)}
    assert int(crc_delta(length, deltas)[0]) == crc_raw


def test_retemplate_keeps_the_length() -> None:
    batch = ReportBatch(icd.build_report(icd.ReportType.STATUS, 0, icd.status_payload()), 4)
    batch.retemplate(icd.build_report(icd.ReportType.STATUS, 0, icd.status_payload(vccint_mv=9)))
    rows = batch.build(5, np.zeros(2, np.uint64))
    assert icd.parse_report(rows[1].tobytes()).payload.vccint_mv == 9
    with pytest.raises(ValueError, match="not"):
        batch.retemplate(b"\0" * 40)
    with pytest.raises(ValueError, match="holds 4"):
        batch.build(0, np.zeros(5, np.uint64))
