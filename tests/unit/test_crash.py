from umlharness.crash import extract_trace, find_crash, trace_complete

OOPS = """\
hello: loaded
BUG: kernel NULL pointer dereference, address: 0000000000000000
Modules linked in: oops(O+)
Call Trace:
 [<60001234>] oops_init+0x10/0x20 [oops]
---[ end trace 0000000000000000 ]---
later line
"""

KASAN = """\
==================================================================
BUG: KASAN: use-after-free in uaf_init+0x40/0x60 [uaf]
Read of size 4 at addr 000000006f0a1234 by task insmod/42
Call Trace:
==================================================================
Disabling lock debugging due to kernel taint
"""


def test_no_crash_in_a_clean_log() -> None:
    assert find_crash("hello: loaded\nLink status changed to UP\n") is None


def test_oops_found_and_trace_cut_at_end_marker() -> None:
    crash = find_crash(OOPS)
    assert crash is not None and crash.kind == "BUG"
    trace = extract_trace(OOPS, crash)
    assert trace.startswith("BUG: kernel NULL pointer")
    assert trace.endswith("---[ end trace 0000000000000000 ]---")
    assert "later line" not in trace
    assert trace_complete(OOPS, crash)


def test_kasan_named_before_generic_bug() -> None:
    crash = find_crash(KASAN)
    assert crash is not None and crash.kind == "KASAN report"
    trace = extract_trace(KASAN, crash)
    assert "Read of size 4" in trace and "Disabling lock" not in trace


def test_panic_and_warn() -> None:
    panic = find_crash("x\nKernel panic - not syncing: boom\n")
    assert panic is not None and panic.kind == "panic"
    warn = find_crash("------------[ cut here ]------------\nWARNING: CPU: 0 PID: 1 at x.c:1\n")
    assert warn is not None and warn.kind == "WARN"


def test_search_starts_at_offset() -> None:
    log = "BUG: first\nok\n"
    assert find_crash(log, start=len("BUG: first\n")) is None


def test_incomplete_trace_is_not_complete() -> None:
    partial = "Oops: 0000 [#1]\nCall Trace:\n"
    crash = find_crash(partial)
    assert crash is not None and not trace_complete(partial, crash)
