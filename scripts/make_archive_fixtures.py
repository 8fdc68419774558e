#!/usr/bin/env python3
"""Writes the archive fixtures of Tests/CoreTests/ArchiveTests.swift with writers independent of libarchive (which
Sources/Runs/Data/Archive.swift reads and writes with): Python's zipfile and tarfile.

  Tests/CoreTests/Fixtures/archives/zip64.zip  ZIP64 throughout, though tiny: every local header and central
      directory entry carries a ZIP64 extra field (0x0001) with the sizes (and offset), and the archive ends with
      a ZIP64 end-of-central-directory record and its locator before the classic end record. force_zip64=True in
      ZipFile.open(..., 'w') makes the local headers ZIP64; zipfile only writes the central directory's and the end
      record's ZIP64 forms past 4 GiB, so this script lowers zipfile.ZIP64_LIMIT (zipfile's own threshold) for the
      write. check_zip64() below verifies all three by parsing the bytes, and zipfile reads the result back; by
      hand, `zipinfo -v zip64.zip` shows "minimum software version required to extract: 4.5" and "a subfield
      with ID 0x0001 (PKWARE 64-bit sizes)" for every member, and its end-of-central-directory offset (1034) is
      the ZIP64 record's, not the classic record's (1110).
  Tests/CoreTests/Fixtures/archives/fixture.tar.gz  a pax tar, gzipped, with a directory, a symbolic link and a
      name longer than ustar's 100 bytes besides the regular files.

Both hold the regular files of MEMBERS (the tests check their exact bytes), deterministically (fixed times, no
gzip timestamp): rerunning the script reproduces the same bytes.  Usage: python3 scripts/make_archive_fixtures.py
"""
import gzip
import io
import os
import struct
import tarfile
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures", "archives")
LONG_NAME = "long/" + "n" * 120 + ".txt"

# (name, bytes, zip compression); the Swift test spells out the same contents.
MEMBERS = [
    ("hello.txt", b"hello, archive\n", zipfile.ZIP_DEFLATED),
    ("empty.bin", b"", zipfile.ZIP_STORED),
    ("sub/dir/data.bin", bytes(i % 256 for i in range(1024)), zipfile.ZIP_DEFLATED),
    ("stored.txt", b"stored, not deflated\n", zipfile.ZIP_STORED),
]
TIME = (2020, 1, 1, 0, 0, 0)
MTIME = 1577836800  # the same instant, UTC


def write_zip(path):
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = -1  # every size and offset "needs" ZIP64: central directory and end record too
    try:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(zipfile.ZipInfo("sub/", TIME), b"")  # a directory entry, which readers skip
            for name, data, method in MEMBERS:
                info = zipfile.ZipInfo(name, TIME)
                info.compress_type = method
                with zf.open(info, "w", force_zip64=True) as f:
                    f.write(data)
    finally:
        zipfile.ZIP64_LIMIT = saved


def extra_fields(extra):
    fields, o = {}, 0
    while o + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, o)
        fields[tag] = extra[o + 4:o + 4 + size]
        o += 4 + size
    return fields


def check_zip64(path):
    """Asserts the ZIP64 structures are present, and that zipfile reads the archive back intact."""
    raw = open(path, "rb").read()
    eocd = raw.rindex(b"PK\x05\x06")
    locator = eocd - 20
    assert raw[locator:locator + 4] == b"PK\x06\x07", "no ZIP64 end-of-central-directory locator"
    (record,) = struct.unpack_from("<Q", raw, locator + 8)
    assert raw[record:record + 4] == b"PK\x06\x06", "no ZIP64 end-of-central-directory record"
    _, _, _, _, _, _, _, count, cd_size, cd_offset = struct.unpack_from("<4sQHHIIQQQQ", raw, record)
    entries = 0
    o = cd_offset
    while o < cd_offset + cd_size:
        sig, _, needed, _, _, _, _, _, csize, size, nlen, xlen, clen, _, _, _, local = struct.unpack_from(
            "<4sHHHHHHIIIHHHHHII", raw, o)
        assert sig == b"PK\x01\x02"
        assert needed >= 45, "central directory entry does not need ZIP64 (4.5)"
        zip64 = extra_fields(raw[o + 46 + nlen:o + 46 + nlen + xlen]).get(0x0001)
        assert zip64 is not None and size == csize == local == 0xFFFFFFFF, "central entry without ZIP64 sizes and offset"
        _, _, local = struct.unpack_from("<QQQ", zip64)  # the sizes, then the local header's offset
        lsig, _, _, _, _, _, _, lcsize, lsize, lnlen, lxlen = struct.unpack_from("<4sHHHHHIIIHH", raw, local)
        assert lsig == b"PK\x03\x04"
        assert 0x0001 in extra_fields(raw[local + 30 + lnlen:local + 30 + lnlen + lxlen]), "local header without ZIP64 extra"
        assert lsize == lcsize == 0xFFFFFFFF, "local header with 32-bit sizes"
        entries += 1
        o += 46 + nlen + xlen + clen
    assert entries == count == len(MEMBERS) + 1
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        for name, data, _ in MEMBERS:
            assert zf.read(name) == data


def write_tar_gz(path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(info, data=None):
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data) if data is not None else None)

        directory = tarfile.TarInfo("sub")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        add(directory)
        for name, data, _ in MEMBERS:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            add(info, data)
        link = tarfile.TarInfo("link-to-hello")
        link.type, link.linkname = tarfile.SYMTYPE, "hello.txt"
        add(link)
        info = tarfile.TarInfo(LONG_NAME)
        data = b"a name longer than 100 bytes\n"
        info.size, info.mode = len(data), 0o644
        add(info, data)
    with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
        gz.write(buffer.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    zip_path = os.path.join(OUT, "zip64.zip")
    write_zip(zip_path)
    check_zip64(zip_path)
    tar_path = os.path.join(OUT, "fixture.tar.gz")
    write_tar_gz(tar_path)
    with tarfile.open(tar_path) as tf:
        assert [m.name for m in tf.getmembers() if m.isfile()] == [m[0] for m in MEMBERS] + [LONG_NAME]
    for p in (zip_path, tar_path):
        print(f"{os.path.relpath(p)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
