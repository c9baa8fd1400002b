"""Reading the console up to a marker line: pieces, boundaries, what is left for the next read."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator

import pexpect
import pytest

from umlharness.console import MarkerSearch, put_back, read_marker_line

TEXT = "out 1\r\nout 2\r\nUMLH-END-7-42\r\nnext\r\n"
MARKER = "\nUMLH-END-7-"
EXPECTED = ("out 1\r\nout 2\r", "42", "next\r\n")


def pieces(text: str, cuts: tuple[int, ...]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def search(chunks: list[str], marker: str = MARKER) -> MarkerSearch:
    found = MarkerSearch(marker)
    for chunk in chunks:
        found.feed(chunk)
    return found


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_every_split_into_two_reads_gives_the_same_result(cut: int) -> None:
    found = search(pieces(TEXT, (cut,)))
    assert found.done and found.result() == EXPECTED


def test_every_split_into_three_reads_gives_the_same_result() -> None:
    for cuts in itertools.combinations(range(1, len(TEXT)), 2):
        assert search(pieces(TEXT, cuts)).result() == EXPECTED, cuts


def test_one_character_at_a_time() -> None:
    assert search(list(TEXT)).result() == EXPECTED


def test_marker_split_between_reads_is_found() -> None:
    at = TEXT.index(MARKER) + 5
    first, second = TEXT[:at], TEXT[at:]
    found = MarkerSearch(MARKER)
    assert not found.feed(first)
    assert found.feed(second)
    assert found.result() == EXPECTED


def test_reads_ending_exactly_at_the_marker_and_at_its_line_end() -> None:
    start = TEXT.index(MARKER)
    end = start + len(MARKER)
    line_end = TEXT.index("\n", end) + 1
    found = MarkerSearch(MARKER)
    assert not found.feed(TEXT[:start])  # output up to the marker, exactly
    assert not found.feed(TEXT[start:end])  # the marker alone: its line is not complete
    assert not found.feed(TEXT[end : line_end - 1])  # up to the \r
    assert found.feed(TEXT[line_end - 1 : line_end])  # the \n completes it
    assert found.result() == ("out 1\r\nout 2\r", "42", "")


def test_text_after_the_line_is_kept_not_searched_again() -> None:
    found = search([TEXT + "\nUMLH-END-7-99\r\n"])
    assert found.result() == (EXPECTED[0], "42", "next\r\n\nUMLH-END-7-99\r\n")
    assert found.feed("\nUMLH-END-7-5\n")
    assert found.result() == (EXPECTED[0], "42", "next\r\n\nUMLH-END-7-99\r\n\nUMLH-END-7-5\n")


def test_not_done_without_the_marker_and_text_is_all_kept() -> None:
    found = search(["UMLH-END", "-7", "x\n", "no marker here\n"])
    assert not found.done
    assert found.text == "UMLH-END-7x\nno marker here\n"
    with pytest.raises(ValueError):
        found.result()


def test_a_one_character_marker() -> None:
    assert search(["ab", "c#1", "\n2"], "#").result() == ("abc", "1", "2")


def test_a_long_stream_in_many_pieces() -> None:
    body = "".join(f"{i}\r\n" for i in range(200_000))
    text = body + "\r\nUMLH-END-7-0\r\n"
    chunks = [text[i : i + 4093] for i in range(0, len(text), 4093)]
    before, status, after = search(chunks).result()
    assert (before, status, after) == (body + "\r", "0", "")


# -- read_marker_line on a real pty (a local shell, no guest) ---------------------------


@pytest.fixture
def shell() -> Iterator[pexpect.spawn]:
    child = pexpect.spawn("/bin/sh", encoding="utf-8", timeout=5)
    child.setecho(False)
    yield child
    child.close(force=True)


def test_marker_line_read_and_the_rest_left_for_expect(shell: pexpect.spawn) -> None:
    shell.sendline("printf 'one\\ntwo\\nMARK-5\\nafter\\n'; sleep 0.2; echo later")
    polls: list[int] = []
    before, rest = read_marker_line(shell, "MARK-", 5, lambda: polls.append(1), 0.05)
    assert before.endswith("one\r\ntwo\r\n") and rest == "5"
    assert polls
    shell.expect("after\r\n")
    shell.expect("later\r\n")


def test_what_expect_left_unread_is_searched_first(shell: pexpect.spawn) -> None:
    shell.sendline("echo first; echo MARK-1; echo tail")
    shell.expect("first\r\n")
    assert read_marker_line(shell, "MARK-", 5, lambda: None, 0.05)[1] == "1"
    shell.expect("tail")


def test_on_timeout_everything_read_stays_for_the_next_wait(shell: pexpect.spawn) -> None:
    shell.sendline("echo partial; sleep 0.5; echo MARK-2")
    with pytest.raises(pexpect.TIMEOUT):
        read_marker_line(shell, "MARK-", 0.2, lambda: None, 0.05)
    before, rest = read_marker_line(shell, "MARK-", 5, lambda: None, 0.05)
    assert "partial\r\n" in before and rest == "2"


def test_a_silent_console_is_nudged_less_and_less_often(shell: pexpect.spawn) -> None:
    shell.sendline("sleep 0.4; echo MARK-3")
    nudges: list[int] = []
    rest = read_marker_line(shell, "MARK-", 5, lambda: None, 0.05, lambda: nudges.append(1))[1]
    assert rest == "3"
    # 2, 4, 8, 16, 32 ms, then every 50 ms: about a dozen in 0.4 s, not 200.
    assert 3 <= len(nudges) <= 40


def test_an_error_from_poll_keeps_the_text(shell: pexpect.spawn) -> None:
    put_back(shell, "kept ")

    def crashed() -> None:
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        read_marker_line(shell, "MARK-", 5, crashed, 0.05)
    assert shell.buffer.startswith("kept ")


def test_eof_is_raised_when_the_child_exits() -> None:
    child = pexpect.spawn(sys.executable, ["-c", "print('bye')"], encoding="utf-8")
    with pytest.raises(pexpect.EOF):
        read_marker_line(child, "MARK-", 5, lambda: None, 0.05)
    child.close(force=True)
