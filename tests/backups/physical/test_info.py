"""Reading `pgbackrest info --output=json` when a wrong passphrase makes it quote decrypted garbage."""

import json

from backups.physical.info import parse_info

GARBAGE = "\x01\x1b\ufffd\"\\x\x7f\u0000\ufffd"


def _info(message: str) -> str:
    return ('[{"archive":[],"backup":[],"cipher":"aes-256-cbc","db":[],"name":"pitrtest","repo":[{"cipher":'
            '"aes-256-cbc","key":1,"status":{"code":99,"message":"' + message + '"}}],'
            '"status":{"code":99,"message":"other","lock":{"backup":{"held":false}}}}]')


def test_control_characters_inside_the_message_are_read_and_left_out_of_it():
    text = _info("[FormatError] unable to load info file 'x': \x01\x02garbage\x1b")
    info = parse_info(text, "pitrtest")
    assert info.status_code == 99
    assert "\x01" not in info.status_message and "\x1b" not in info.status_message


def test_garbage_that_breaks_the_json_still_reads_as_an_unreadable_repository():
    text = _info("[FormatError] unable to load info file '/tmp/repo/backup.info': " + GARBAGE)
    try:
        json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    else:  # the case this test is for: JSON that even a lenient reader refuses
        raise AssertionError("the sample must not be valid JSON")
    info = parse_info(text, "pitrtest")
    assert info.status_code == 99
    assert info.status_message.startswith("[FormatError] unable to load info file '/tmp/repo/backup.info'")


def _sets(*stops: int) -> str:
    backups = ",".join(
        json.dumps({"label": f"set-{stop}", "type": "full", "timestamp": {"start": stop - 5, "stop": stop},
                    "annotation": {}})
        for stop in stops)
    return ('[{"name":"pitrtest","cipher":"none","archive":[],"status":{"code":0,"message":"ok"},"backup":['
            + backups + "]}]")


def test_a_time_in_the_same_second_as_a_backups_end_recovers_from_the_set_before_it():
    from datetime import UTC, datetime

    from backups.physical.restore import _set_for_time

    info = parse_info(_sets(1_000_000, 1_000_100), "pitrtest")
    same_second = datetime.fromtimestamp(1_000_100.4, tz=UTC)  # pgBackRest itself would find no set here
    assert _set_for_time(info, same_second).label == "set-1000000"
    later = datetime.fromtimestamp(1_000_101.0, tz=UTC)
    assert _set_for_time(info, later).label == "set-1000100"
    only = parse_info(_sets(1_000_100), "pitrtest")
    assert _set_for_time(only, same_second).label == "set-1000100"  # the only candidate: PostgreSQL will judge
