"""Parsing an uploaded file of user ids: the job and the admin form share this one parser."""

import pytest
from django.utils import translation

from apps.common.errors import GroupBuyError
from apps.tags.services import parse_user_id_csv


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"u1\nu2\n", ["u1", "u2"]),
        (b"  u1  \r\n\r\n\tu2\r\n\n", ["u1", "u2"]),  # stripped, blank lines skipped, CRLF
        (b"u2\nu1\nu2\nu1\n", ["u2", "u1"]),  # deduplicated in file order
        (b"user_id\nu1\nu2\n", ["u1", "u2"]),  # a one-column header
        (b"\xef\xbb\xbfUSER_ID\nu1\n", ["u1"]),  # Excel's BOM, any case
        (b"name,User_Id,city\nAnn,u1,SH\nBo, u2 ,BJ\n\nCy,u1,GZ\n", ["u1", "u2"]),  # the user_id column
        (b'user_id,note\n"u,1",x\n', ["u,1"]),  # quoted cells
        ("用户甲\n".encode(), ["用户甲"]),
        (("x" * 64 + "\n").encode(), ["x" * 64]),
    ],
)
def test_accepted_files(data, expected):
    assert parse_user_id_csv(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (("u1\n" + "x" * 65 + "\nu2\n").encode(), "1 invalid line: line 2: user id longer than 64 characters"),
        (b"u1\nu1,u2\n", "line 2: several values"),
        (b"u1\nhas space\n", "line 2: user id empty or containing whitespace"),
        (b"user_id,name\n,Ann\nu2,Bo\n", "line 2: user id empty"),
        (b"\xff\xfeu\x001\x00", "not UTF-8"),
        (b"", "no user ids"),
        (b"user_id\n\n", "no user ids"),
        (b"u1\x00\n", "line 1: user id empty or containing whitespace/control characters"),
        (b"u1\n" + b"z" * 200_000 + b"\n", "line 2: unreadable CSV (field larger than field limit"),
    ],
)
def test_refused_files(data, message):
    with pytest.raises(GroupBuyError) as caught, translation.override("en"):
        parse_user_id_csv(data)
    assert message in caught.value.info
    assert caught.value.code == "0002"


def test_many_bad_lines_are_summarised():
    data = "\n".join("y" * 70 for _ in range(25)).encode()
    with pytest.raises(GroupBuyError) as caught, translation.override("en"):
        parse_user_id_csv(data)
    assert caught.value.info.startswith("25 invalid lines: line 1:")
    assert "line 10:" in caught.value.info
    assert "line 11:" not in caught.value.info
    assert caught.value.info.endswith("and 15 more")


def test_the_summary_is_translated():
    data = ("u1\n" + "x" * 65 + "\n").encode()
    with pytest.raises(GroupBuyError) as caught, translation.override("zh-hans"):
        parse_user_id_csv(data)
    assert "user id longer than 64 characters" not in caught.value.info
