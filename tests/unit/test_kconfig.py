import pytest

from umlharness.errors import ConfigDropped, HarnessError
from umlharness.kconfig import Kconfig


def test_parse_set_unset_and_strings() -> None:
    config = Kconfig.parse('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="null"\n# comment\n')
    assert config.options == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": '"null"'}


def test_malformed_line_names_file_and_line() -> None:
    with pytest.raises(HarnessError, match=r"frag.config:2: not a Kconfig line"):
        Kconfig.parse("CONFIG_A=y\nA=y\n", origin="frag.config")


def test_merge_later_wins() -> None:
    merged = Kconfig.parse("CONFIG_A=y\nCONFIG_B=y").merged(Kconfig.parse("CONFIG_B=m"))
    assert merged.options == {"CONFIG_A": "y", "CONFIG_B": "m"}


def test_dropped_options_are_named_with_what_was_got() -> None:
    fragment = Kconfig.parse("CONFIG_A=y\nCONFIG_UNKNOWN=y\nCONFIG_M=m\n# CONFIG_OFF is not set")
    result = Kconfig.parse("CONFIG_A=y\nCONFIG_M=y\n")
    dropped = fragment.dropped_from(result)
    assert dropped == {"CONFIG_UNKNOWN": ("y", None), "CONFIG_M": ("m", "y")}
    message = str(ConfigDropped(dropped))
    assert "CONFIG_UNKNOWN=y (got unset)" in message and "CONFIG_M=m (got y)" in message


def test_round_trip_through_text() -> None:
    config = Kconfig.parse('CONFIG_B=m\n# CONFIG_A is not set\nCONFIG_S="x"')
    assert Kconfig.parse(config.to_text()) == config
