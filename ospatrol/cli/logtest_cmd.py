"""`ospatrol logtest`: feed log lines on stdin through the engine, print what ossec-logtest prints.

Correlation state is kept across lines (frequency rules fire as they would in the manager).
Without `--ossec-conf/--rules-dir/--decoders` the project's own rule set is used.
"""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import click

RULESET_OPTIONS = (
    click.option(
        "-D",
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        help="An OSSEC/Wazuh installation folder (like /var/ossec): reads HOME/etc/ossec.conf "
        "and resolves a Wazuh <ruleset> block's paths against HOME.",
    ),
    click.option(
        "--ossec-conf",
        type=click.Path(dir_okay=False, path_type=Path),
        help="An ossec.conf whose <rules> block (or Wazuh <ruleset> block) gives the load order.",
    ),
    click.option(
        "--rules-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where rule files named in the config are found.",
    ),
    click.option(
        "--decoders",
        "decoders",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Decoder file or folder (repeatable); replaces the config's decoders.",
    ),
)


def ruleset_options(func):
    """Attach the options that choose a rule set (shared with `ospatrol rules check`)."""
    for option in reversed(RULESET_OPTIONS):
        func = option(func)
    return func


def load_chosen_ruleset(
    home: Path | None,
    ossec_conf: Path | None,
    rules_dir: Path | None,
    decoders: tuple[Path, ...],
    *,
    cache: bool = False,
):
    """The rule set the options name, or OSPatrol's own; `cache`: use the compiled-ruleset
    cache (`ospatrol.analysis.rulecache`)."""
    from ospatrol.analysis.loader import load_default_ruleset, load_ruleset

    if home is not None and ossec_conf is None:
        ossec_conf = home / "etc" / "ossec.conf"
    if ossec_conf is None and rules_dir is None and not decoders:
        return load_default_ruleset(cache=cache)
    return load_ruleset(
        ossec_conf,
        rules_dir=rules_dir,
        decoders=list(decoders) or None,
        cache=cache,
        home=home,
    )


def _valid_utf8(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _default_hostname() -> str:
    return socket.gethostname().split(".", 1)[0] or "localhost"


# The most bytes of one input line kept with a Wazuh rule set; the rest of a longer line is read
# and dropped, so an endless line cannot exhaust memory (analysis looks at the first 65,536
# characters anyway).
LINE_LIMIT = 1 << 20
# How much of stdin is read at a time (at most: a terminal or a pipe gives what it has).
BLOCK = 1 << 16


def _decode(data: bytes) -> str:
    """Input bytes as text, invalid UTF-8 kept as surrogate escapes."""
    return data.decode("utf-8", errors="surrogateescape")


def _cut_line(line: str, limit: int) -> str:
    """`line` cut to its first `limit` bytes (itself when it fits)."""
    if 4 * len(line) <= limit or (line.isascii() and len(line) <= limit):
        return line
    data = line.encode("utf-8", errors="surrogateescape")
    return line if len(data) <= limit else _decode(data[:limit])


def _pieces(line: str, piece: int, newline: bool) -> list[str]:
    """`line` (with its newline, if it had one) as ossec-logtest's fgets reads it: pieces of at
    most `piece` bytes, each one line, the newline dropped from the last (a character may be
    cut in two: its bytes become surrogate escapes)."""
    data = line.encode("utf-8", errors="surrogateescape") + (b"\n" if newline else b"")
    out = [_decode(data[i : i + piece]) for i in range(0, len(data), piece)]
    if newline:
        out[-1] = out[-1][:-1]
    return out


def _fits(line: str, piece: int) -> bool:
    """Whether `line` and its newline fit in one piece of `piece` bytes."""
    # At most 4 bytes a character (a surrogate escape is one); ASCII is one a character.
    return 4 * len(line) < piece or (
        len(line) < piece
        and (line.isascii() or len(line.encode("utf-8", errors="surrogateescape")) < piece)
    )


def _read_lines(piece: int | None = None) -> Iterator[list[str]]:
    """stdin as batches of text lines, each batch what one read gave. Any bytes are accepted:
    invalid UTF-8 is kept as surrogate escapes, so logs and output carry the original bytes (as
    ossec-logtest's do). With `piece` (OSSEC 4.3's dialect), a longer line is read as
    ossec-logtest's fgets reads it: in pieces of that many bytes, newline included, each one
    line (a character may be cut in two). Without it (Wazuh's), a line keeps its first
    `LINE_LIMIT` bytes and the rest is read and dropped. Either way no line is held whole.

    A block of complete lines is decoded at once: UTF-8 never uses the newline byte inside a
    character, so that gives what decoding each line does (tests/analysis/test_logtest_read.py).
    """
    stdin = sys.stdin.buffer
    read = getattr(stdin, "read1", stdin.read)
    tail = b""  # the start of a line whose newline has not been read yet
    dropping = False  # Wazuh's dialect: within the dropped rest of a line over LINE_LIMIT
    while block := read(BLOCK):
        if dropping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            dropping = False
            block = block[newline + 1 :]
        data = tail + block if tail else block
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        lines = _decode(data[: end - 1]).split("\n") if end else []
        if piece is not None:
            # One C-level look at the longest line settles nearly every block.
            if lines and 4 * max(map(len, lines)) >= piece:
                lines = [
                    cut
                    for line in lines
                    for cut in ((line,) if _fits(line, piece) else _pieces(line, piece, True))
                ]
            # An unfinished line's whole pieces are what fgets returns before its newline.
            whole = len(tail) - len(tail) % piece
            if whole:
                lines += [_decode(tail[i : i + piece]) for i in range(0, whole, piece)]
                tail = tail[whole:]
        else:
            if lines and 4 * max(map(len, lines)) > LINE_LIMIT:
                lines = [_cut_line(line, LINE_LIMIT) for line in lines]
            if len(tail) > LINE_LIMIT:
                lines.append(_decode(tail[:LINE_LIMIT]))
                tail = b""
                dropping = True
        if lines:
            yield lines
    if tail:
        yield [_decode(tail)]


@click.command("logtest")
@ruleset_options
@click.option(
    "--hostname",
    envvar="OSPATROL_HOSTNAME",
    default=None,
    help="Hostname for lines without one (env OSPATROL_HOSTNAME; default: this host).",
)
@click.option("-a", "alerts_only", is_flag=True, help="Print alerts in alerts.log layout only.")
@click.option("-q", "quiet", is_flag=True, help="Print nothing per event (use with -U).")
@click.option("-v", "verbose", is_flag=True, help="Rule debugging: list every rule tried.")
@click.option(
    "-U",
    "unit",
    metavar="RULE:LEVEL:DECODER",
    help="Exit 0 if the last line gives this rule, level and decoder "
    "(1: level differs, 2: rule, 3: decoder, 255: decoded but no rule; with a Wazuh rule set "
    "as wazuh-logtest: 1 when anything differs).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help="jsonl: one JSON object per line (decoder, rule, level, alert, fields).",
)
def logtest(
    home: Path | None,
    ossec_conf: Path | None,
    rules_dir: Path | None,
    decoders: tuple[Path, ...],
    hostname: str | None,
    alerts_only: bool,
    quiet: bool,
    verbose: bool,
    unit: str | None,
    fmt: str,
) -> None:
    """Test decoders and rules on log lines read from stdin, like ossec-logtest."""
    from ospatrol.analysis.engine import Engine
    from ospatrol.analysis.logtest import (
        MIN_LINE,
        Expectation,
        format_phases,
        result_json,
        unit_code,
        wazuh_unit_code,
    )
    from ospatrol.analysis.predecode import ossec_room
    from ospatrol.respond.alertfmt import format_alerts_log

    expect = Expectation.parse(unit) if unit else None
    ruleset = load_chosen_ruleset(home, ossec_conf, rules_dir, decoders, cache=True)
    engine = Engine(ruleset, hostname=hostname or _default_hostname(), trace_rules=verbose)
    # The rule set lives until exit and makes no garbage cycles: out of the cyclic collector's
    # reach, it is not walked once more when it ages (a generation-1 pass of 2-5 ms, 2-8 % of
    # a 10,000-line run).
    gc.freeze()
    wazuh = ruleset.dialect == "wazuh"
    if sys.stdin.isatty() and not quiet and fmt == "text":
        click.echo("ospatrol logtest: Type one log per line.", err=True)
    stdout = sys.stdout.buffer

    def write(text: str) -> None:
        stdout.write(text.encode("utf-8", errors="surrogateescape"))

    code = 0
    first = True
    # ossec-logtest reads a line in pieces that fit analysisd's buffer after "1:stdin:".
    for lines in _read_lines(None if wazuh else ossec_room("stdin")):
        for line in lines:
            if len(line) < MIN_LINE or "\x00" in line:
                # ossec-logtest counts the bytes of the C string it read, up to its first NUL:
                # one two-byte character is a line, "\0abc" is none.
                head = line.partition("\x00")[0]
                if len(head.encode("utf-8", "surrogateescape")) < MIN_LINE:
                    continue
            result = engine.process_line(line)
            if expect is not None:
                code = wazuh_unit_code(result, expect) if wazuh else unit_code(result, expect)
            if quiet:
                continue
            if fmt == "jsonl":
                # JSON stays valid UTF-8: undecodable bytes become U+FFFD there.
                write(_valid_utf8(result_json(result)) + "\n")
            elif alerts_only:
                if result.alert is not None:
                    write(format_alerts_log(result.alert, result.alert.alert_id))
            else:
                if not first:
                    write("\n")
                write(format_phases(result))
            stdout.flush()
            first = False
    for source, count in ruleset.regex_timeouts().items():
        click.echo(f"warning: pattern {source!r} gave up (time budget) {count} time(s)", err=True)
    sys.exit(code)
