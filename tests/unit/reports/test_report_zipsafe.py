"""Member-name and archive checks of the evidence-pack reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from charter.reports.zipsafe import Limits, ZipUnsafe, checked_members, read_member, unsafe_name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("a/..", "climbs out"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("c:x", "absolute"),
        ("a\\b", "backslash"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a/", "empty"),
        ("", "empty"),
        ("a\nb", "control"),
        ("x" * 256, "255"),
    ],
)
def test_unsafe_names(name: str, why: str) -> None:
    assert why in (unsafe_name(name) or "")


@pytest.mark.parametrize("name", ["MANIFEST.json", "audit/export.jsonl", "licenses/lic_1.jwt", "a..b/c.d", "é/ü.txt"])
def test_plain_names(name: str) -> None:
    assert unsafe_name(name) is None


def archive(**members: bytes) -> zipfile.ZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def test_ratio_applies_above_the_floor_only() -> None:
    small = archive(a=b"\0" * 500_000)  # compresses ~1000x, but below the 1 MiB floor
    assert [i.filename for i in checked_members(small, Limits())] == ["a"]
    with pytest.raises(ZipUnsafe, match="zip bomb"):
        checked_members(archive(a=b"\0" * (2 << 20)), Limits())
    assert checked_members(archive(a=b"\0" * (2 << 20)), Limits(max_ratio=10_000))


def test_member_caps() -> None:
    zf = archive(a=b"x" * 1000)
    with pytest.raises(ZipUnsafe, match="would expand"):
        checked_members(zf, Limits(max_member_bytes=999))
    with pytest.raises(ZipUnsafe, match="at most 10 expected"):
        read_member(zf, zf.infolist()[0], 10)
    assert read_member(zf, zf.infolist()[0], 1000) == b"x" * 1000


def test_encrypted_members_are_refused() -> None:
    zf = archive(a=b"x")
    zf.infolist()[0].flag_bits |= 0x1
    with pytest.raises(ZipUnsafe, match="encrypted"):
        checked_members(zf, Limits())


def test_a_lying_size_header_is_caught_while_reading() -> None:
    zf = archive(a=b"y" * 5000)
    info = zf.infolist()[0]
    info.file_size = 100  # the central directory claims less than the data holds
    with pytest.raises((ZipUnsafe, zipfile.BadZipFile)):
        read_member(zf, info, 1000)
