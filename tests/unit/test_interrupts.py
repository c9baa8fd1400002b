from umlharness.interrupts import parse_interrupts

PROC_INTERRUPTS = """\
           CPU0
  0:       1632  SIGVTALRM  hr timer
  2:        110     SIGIO  console
  9:          0     SIGIO  mconsole
 12:          4     SIGIO  mock-demo
 14:          1     SIGIO  random
"""


def test_parse_interrupts() -> None:
    lines = parse_interrupts(PROC_INTERRUPTS)
    assert [line.irq for line in lines] == ["0", "2", "9", "12", "14"]
    mock = next(line for line in lines if line.name == "mock-demo")
    assert (mock.count, mock.kind) == (4, "SIGIO")
    assert lines[0].name == "hr timer"
