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


# As a 6.1 guest with `--pci pcitest --iomem mock` prints it: MSI rows have a chip
# name with spaces and a hardware IRQ number before the handler's name.
WITH_MSI = """\
           CPU0
  0:         25   SIGALRM      hr timer
 14:          0     SIGIO      mock
 65:          3  UM virtio PCIe MSI   0  uh_pcitest
 66:          0  UM virtio PCIe MSI   1  uh_pcitest
"""


def test_msi_rows_have_their_chip_hwirq_and_name() -> None:
    rows = {row.irq: row for row in parse_interrupts(WITH_MSI)}
    assert (rows["65"].kind, rows["65"].hwirq, rows["65"].name) == (
        "UM virtio PCIe MSI",
        0,
        "uh_pcitest",
    )
    assert (rows["66"].count, rows["66"].hwirq) == (0, 1)
    assert (rows["14"].kind, rows["14"].hwirq, rows["14"].name) == ("SIGIO", None, "mock")
    assert rows["0"].name == "hr timer"
