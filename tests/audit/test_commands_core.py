"""The command-diff collector's pure core: profile parsing, framing, normalisation, diffs."""

from __future__ import annotations

import subprocess

import pytest

from ospatrol.collect.base import EVENT_DIFF_LINES
from ospatrol.collect.commands import (
    CommandSpec,
    GarbageOutput,
    build_script,
    changed_finding,
    normalise,
    parse_batch,
    parse_command_specs,
    remote_command,
)
from ospatrol.errors import InputError
from ospatrol.yamlfile import load_yaml_text


def _specs(text: str):
    data = load_yaml_text(text, "p.yml")
    return parse_command_specs(data["commands"], "p.yml", data.line_of("commands"))


def test_profile_items_string_and_mapping():
    specs = _specs(
        "commands:\n"
        "  - lsmod\n"
        "  - command: ss -tlnH\n"
        "    name: listening ports\n"
        "    sort: true\n"
        "    filters:\n"
        "      - drop: '^#'\n"
        "      - sub: '\\s+'\n"
        "        with: ' '\n"
    )
    assert [s.command for s in specs] == ["lsmod", "ss -tlnH"]
    assert specs[1].sort and specs[1].label == "listening ports" and len(specs[1].filters) == 2


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("  - command: x\n    colour: red\n", "unknown key 'colour'", 3),
        ("  - command: x\n    filters:\n      - drop: '('\n", "bad regex", 4),
        ("  - command: x\n    sort: maybe\n", "'sort' must be true or false", 3),
        ("  - x\n  - x\n", "duplicate command", 1),
        ("  - 42\n", "expected a string or a mapping", 1),
    ],
)
def test_profile_errors_name_file_and_line(body, message, line):
    with pytest.raises(InputError) as info:
        _specs("commands:\n" + body)
    assert message in str(info.value)
    assert info.value.path == "p.yml"
    assert info.value.line == line


def test_normalise_filters_in_order_then_sorts():
    spec = CommandSpec(
        "ss",
        filters=parse_command_specs(
            [
                {
                    "command": "ss",
                    "filters": [
                        {"drop": "^State"},
                        {"sub": r"^\S+\s+\d+\s+\d+\s+(\S+).*$", "with": r"\1"},
                    ],
                }
            ],
            "p.yml",
        )[0].filters,
        sort=True,
    )
    output = (
        "State Recv-Q Send-Q Local\n"
        "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n"
        "LISTEN 3 4096 127.0.0.1:631 *\n\n"
    )
    assert normalise(output, spec) == "0.0.0.0:22\n127.0.0.1:631\n"


def _run_batch(specs, nonce="n0nce"):
    stdout = subprocess.run(
        remote_command(build_script(specs, nonce)), shell=True, capture_output=True, text=True
    ).stdout
    return parse_batch(stdout, nonce, len(specs))


def test_batch_frames_each_output_with_its_exit_status():
    specs = [
        CommandSpec("echo one; echo two"),
        CommandSpec("printf 'no newline'"),
        CommandSpec("ospatrol-no-such-command-xyz"),
        CommandSpec("echo 'quotes \" and $HOME'; exit 3"),
        CommandSpec("true # a trailing comment"),
    ]
    batch = _run_batch(specs)
    assert batch.complete
    assert batch.outputs[0].output == "one\ntwo\n" and batch.outputs[0].exit_status == 0
    assert batch.outputs[1].output == "no newline"
    assert batch.outputs[2].exit_status == 127
    assert batch.outputs[3].exit_status == 3 and '"' in batch.outputs[3].output
    assert batch.outputs[4].output == "" and batch.outputs[4].exit_status == 0


def test_output_cannot_forge_markers_of_another_nonce():
    batch = _run_batch([CommandSpec("echo __OSPATROL_other__ DONE 1")], nonce="mine")
    assert batch.complete and "other" in batch.outputs[0].output


def test_truncated_batch_is_incomplete_and_garbage_is_rejected():
    specs = [CommandSpec("echo a"), CommandSpec("echo b")]
    nonce = "t"
    full = subprocess.run(
        remote_command(build_script(specs, nonce)), shell=True, capture_output=True, text=True
    ).stdout
    cut = full[: full.index("BEGIN 1")]
    assert not parse_batch(cut, nonce, 2).complete
    with pytest.raises(GarbageOutput):
        parse_batch("% Invalid input detected at '^' marker.\n", nonce, 2)
    # The excerpt lands in the stored finding and the report: secrets in it are masked.
    with pytest.raises(GarbageOutput) as raised:
        parse_batch("db_password=s3cret\nroot:$6$salt$hash:19000:0:::\n", nonce, 2)
    assert "s3cret" not in str(raised.value) and "$6$salt" not in str(raised.value)
    assert "root:***:" in str(raised.value)


def test_changed_finding_has_documented_text_and_capped_event():
    spec = CommandSpec("getent passwd")
    old = "".join(f"user{i}:x:{i}\n" for i in range(100))
    new = "".join(f"user{i}:x:{i + 1}\n" for i in range(100))
    finding = changed_finding("web1", spec, old, new)
    first, *rest = finding.event_text.splitlines()
    assert first == "ospatrol: command output changed: 'getent passwd'"
    assert len(rest) == EVENT_DIFF_LINES + 1 and rest[-1] == "More changes..."
    assert finding.kind == "changed" and finding.subject == "getent passwd"
    assert "-user5:x:5" in finding.diff and "+user5:x:6" in finding.diff


def test_changed_finding_is_titled_by_the_check_name_and_event_keeps_the_command():
    spec = CommandSpec("ss -tlnH 2>/dev/null || netstat -tln", name="listening TCP ports")
    finding = changed_finding("web1", spec, "a\n", "a\nb\n")
    assert finding.subject == "listening TCP ports"
    assert finding.event_text.splitlines()[0] == (
        "ospatrol: command output changed: 'ss -tlnH 2>/dev/null || netstat -tln'"
    )


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("0 3 * * * mysqldump -pS3cret db", "0 3 * * * mysqldump -p*** db"),
        ("DB_PASSWORD=hunter2 other", "DB_PASSWORD=*** other"),
        ("snmp community: public", "snmp community: ***"),
        ("root:$6$salt$hash:19000:0:99999:7:::", "root:***:19000:0:99999:7:::"),
        ("run --password=xx now", "run --password=*** now"),
        ("find / -perm -4000", "find / -perm -4000"),
        ("LISTEN 0 128 127.0.0.1:22", "LISTEN 0 128 127.0.0.1:22"),
    ],
)
def test_secrets_are_masked_before_anything_is_stored(line, masked):
    assert normalise(line + "\n", CommandSpec("x")) == masked + "\n"
