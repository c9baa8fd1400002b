from umlharness.crash import extract_trace, find_crash, signature, trace_complete

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


NOBODY_CARED = """\
irq 65: nobody cared (try booting with the "irqpoll" option)
CPU: 0 PID: 0 Comm: swapper Not tainted 6.12.117 #1
Call Trace:
 [<60030c05>] __report_bad_irq+0x35/0xc0
handlers:
[<00000000f0a1b2c3>] rtl8169_interrupt [r8169]
Disabling IRQ #65
eth0: link up
"""


def test_an_interrupt_nobody_handled_is_reported_with_its_handlers() -> None:
    crash = find_crash(NOBODY_CARED)
    assert crash is not None and crash.kind == "disabled IRQ"
    assert trace_complete(NOBODY_CARED, crash)
    trace = extract_trace(NOBODY_CARED, crash)
    assert trace.splitlines()[-1] == "Disabling IRQ #65"
    assert "rtl8169_interrupt" in trace


KASAN_UML = """\
[    0.160000] BUG: KASAN: slab-use-after-free in uh_kasan_uaf_init+0x7f/0x1000 [uh_kasan_uaf]
[    0.160000] Read of size 4 at addr 0000000061343b40 by task modprobe/25
[    0.160000] Call Trace:
[    0.160000]  [<60039cd0>] ? dump_trace+0x0/0x2c0
[    0.160000]  [<60741972>] show_stack.cold+0xb0/0x17b
[    0.160000]  [<6077c5fb>] dump_stack_lvl+0x83/0x95
[    0.160000]  [<6881f07f>] ? uh_kasan_uaf_init+0x7f/0x1000 [uh_kasan_uaf]
[    0.160000]  [<6074fa73>] print_report+0x1af/0x5a7
[    0.160000]  [<601c50fc>] kasan_report+0x11c/0x160
[    0.160000]  [<6881f07f>] uh_kasan_uaf_init+0x7f/0x1000 [uh_kasan_uaf]
[    0.160000]  [<60031a4c>] do_one_initcall+0xcc/0x4a0
"""


def test_a_signature_names_the_crash_and_the_functions_sure_of_past_the_report() -> None:
    assert signature("KASAN report", KASAN_UML) == (
        "KASAN report: BUG: KASAN: slab-use-after-free in uh_kasan_uaf_init [uh_kasan_uaf]"
        " | uh_kasan_uaf_init < do_one_initcall"
    )


def test_the_same_crash_at_other_addresses_has_the_same_signature() -> None:
    moved = KASAN_UML.replace("0.160000", "3.500000").replace("61343b40", "71a40010")
    moved = moved.replace("modprobe/25", "insmod/77").replace("0x7f/0x1000", "0x80/0x1000")
    assert signature("KASAN report", moved) == signature("KASAN report", KASAN_UML)
