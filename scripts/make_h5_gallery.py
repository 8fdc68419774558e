#!/usr/bin/python3
"""Writes Tests/ReplicateTests/Fixtures/h5gallery/: valid HDF5 files that h5py and h5dump read, each holding
something `replicate inspect` once crashed on, hung on or read without bound.

  strings.h5          variable- and fixed-length strings, scalar and arrays (1-D, 2-D), ASCII and UTF-8, in
                      attributes and datasets
  types.h5            every integer width signed and unsigned (and big-endian), float16/32/64 and long double,
                      bool, enum, compound (nested, with strings and an array member), complex as a compound,
                      opaque, bitfield, array, variable-length sequences, object and region references, a named
                      datatype, a time type (which nothing reads), as datasets and as attributes; and a dataset
                      compressed with h5py's own LZF filter, which libhdf5 alone cannot decompress
  spaces.h5           null dataspaces, scalar datasets, 0-length and empty-series datasets, a [3, 0] dataset
  links.h5            hard links to the same dataset and group, a hard-link loop (/a/b/up is /a, /a/b/root is /),
                      soft links (to a dataset, to a group, dangling, a soft-link cycle, through an external link),
                      external links (to a gallery file and to a missing one)
  deep.h5             200 nested groups with a dataset at the bottom
  many_attributes.h5  20,000 attributes on one group
  sparse_huge.h5      chunked datasets of 10^12 elements (a series, a 10^6 x 10^6 matrix, a compressed one) with
                      only a few chunks written, a [2^40, 2^40] one with none, and one whose elements are arrays of
                      20 MB each (none written)

Regenerate (Debian's python3-h5py and numpy; the tests read the committed files, not this script):
    /usr/bin/python3 scripts/make_h5_gallery.py
Tests/ReplicateTests/InspectGalleryTests.swift checks what `replicate inspect` prints for each.
"""
import os

import h5py
import numpy as np
from h5py import h5a, h5d, h5s, h5t

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ReplicateTests", "Fixtures", "h5gallery")


def low_level_dataset(parent, name, tid, shape, data=None, mtype=None):
    """A dataset of a type h5py's high-level API cannot make (array, bitfield, time), written as raw memory."""
    space = h5s.create_simple(shape)
    dsid = h5d.create(parent.id, name.encode(), tid, space)
    if data is not None:
        dsid.write(h5s.ALL, h5s.ALL, data, mtype=mtype)


def low_level_attribute(obj, name, tid, shape, data=None, mtype=None):
    space = h5s.create_simple(shape)
    aid = h5a.create(obj.id, name.encode(), tid, space)
    if data is not None:
        aid.write(data, mtype=mtype)


def strings(f):
    """Every string kind twice: as an attribute of the root and as a dataset of the same name."""
    vlen, vlen_ascii = h5py.string_dtype("utf-8"), h5py.string_dtype("ascii")
    fixed_utf8 = h5py.string_dtype("utf-8", 6)
    values = [
        ("vlen_scalar", "hello", vlen),
        ("vlen_array", np.array(["alpha", "beta", "gamma"], dtype=object), vlen),
        ("vlen_ascii_array", np.array(["one", "two"], dtype=object), vlen_ascii),
        ("vlen_2d", np.array([["a1", "a2", "a3"], ["b1", "b2", "b3"]], dtype=object), vlen),
        ("vlen_utf8", "naïve ☃ 日本", vlen),
        ("vlen_empty", "", vlen),
        ("vlen_many", np.array([f"s{i:04d}" for i in range(300)], dtype=object), vlen),
        ("fixed_scalar", np.bytes_(b"fixed"), None),
        ("fixed_array", np.array([b"red", b"green", b"blue!"], dtype="S5"), None),
        ("fixed_full", np.array([b"abcdefgh", b"ijklmnop"], dtype="S8"), None),
        ("fixed_utf8", np.array(["ä€".encode(), b"x"], dtype="S6"), fixed_utf8),
    ]
    for name, value, dtype in values:
        f.attrs.create(name, value, dtype=dtype)
        if dtype is fixed_utf8:  # h5py converts bytes only to ASCII strings: write the bytes as they are
            d = f.create_dataset(name, shape=value.shape, dtype=dtype)
            d.id.write(h5s.ALL, h5s.ALL, value, mtype=d.id.get_type())
        else:
            f.create_dataset(name, data=value, dtype=dtype)


def types(f):
    ints = f.create_group("ints")
    for dt in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
        info = np.iinfo(dt)
        ints.create_dataset(np.dtype(dt).name, data=np.array([info.min, 0, 1, info.max], dtype=dt))
    ints.create_dataset("int32_be", data=np.array([1, -2, 300], dtype=">i4"))
    floats = f.create_group("floats")
    floats.create_dataset("float16", data=np.array([1.5, -2.25, 65504], dtype="f2"))
    floats.create_dataset("float32", data=np.array([0.1, 3.0], dtype="f4"))
    floats.create_dataset("float64_be", data=np.array([0.5, np.inf, np.nan], dtype=">f8"))
    floats.create_dataset("longdouble", data=np.array([1.25, -7.5], dtype=np.longdouble))
    f.create_dataset("bool", data=np.array([True, False, True]))
    colour = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="u1")
    f.create_dataset("enum", data=np.array([0, 42, 1, 7], dtype="u1"), dtype=colour)
    inner = np.dtype([("x", "<f4"), ("y", "<f4")])
    record = np.dtype([("id", "<i4"), ("score", "<f8"), ("name", "S6"), ("note", h5py.string_dtype()),
                       ("at", inner), ("m", "<i2", (2, 3))])
    rows = np.zeros(3, dtype=record)
    rows["id"] = [1, 2, 3]
    rows["score"] = [0.5, 1.5, 2.5]
    rows["name"] = [b"ann", b"bob", b"cy"]
    rows["note"] = ["first", "second", "third"]
    rows["at"]["x"] = [1, 2, 3]
    rows["m"][1] = np.arange(6).reshape(2, 3)
    f.create_dataset("compound", data=rows)
    f.create_dataset("complex64", data=np.array([1 + 2j, -0.5j], dtype="c8"))
    f.create_dataset("complex128", data=np.array([3 - 4j], dtype="c16"))
    f.create_dataset("opaque", data=np.array([b"\x01\x02\x03\x04", b"\xde\xad\xbe\xef"], dtype="V4"))
    low_level_dataset(f, "bitfield", h5t.STD_B8LE, (3,), np.array([1, 15, 255], dtype="u1"), mtype=h5t.NATIVE_B8)
    low_level_dataset(f, "array", h5t.array_create(h5t.STD_I32LE, (2, 3)), (2,),
                      np.arange(12, dtype="<i4").reshape(2, 2, 3), mtype=h5t.array_create(h5t.NATIVE_INT32, (2, 3)))
    seq = f.create_dataset("vlen_sequence", (3,), dtype=h5py.vlen_dtype(np.int32))
    seq[0], seq[1], seq[2] = np.array([1], "i4"), np.arange(1, 20, dtype="i4"), np.array([], "i4")
    refs = f.create_dataset("object_refs", (3,), dtype=h5py.ref_dtype)
    refs[0], refs[1] = f["ints/int8"].ref, f["floats"].ref  # refs[2] stays a null reference
    regions = f.create_dataset("region_refs", (1,), dtype=h5py.regionref_dtype)
    regions[0] = f["ints/int64"].regionref[1:3]
    f["named_type"] = np.dtype("<f4")
    low_level_dataset(f, "time", h5t.UNIX_D32LE, (2,))
    f.create_dataset("lzf", data=np.arange(4096, dtype="i4") // 64, chunks=(1024,), compression="lzf")

    g = f.create_group("attrs_of_every_type")
    a = g.attrs
    a["int8"] = np.int8(-8)
    a["uint64_max"] = np.uint64(2**64 - 1)
    a["int64_min"] = np.int64(-2**63)
    a["float16"] = np.float16(0.5)
    a["bool"] = np.bool_(True)
    a.create("enum", np.array([42, 0], dtype="u1"), dtype=colour)
    a["compound"] = rows[1]
    a["complex"] = np.complex128(1.5 - 2j)
    a["opaque"] = np.void(b"\xca\xfe")
    a.create("vlen_sequence", [np.array([1.5, 2.5]), np.array([3.5])], dtype=h5py.vlen_dtype(np.float64))
    a.create("object_ref", f["enum"].ref, dtype=h5py.ref_dtype)
    a["matrix"] = np.arange(6, dtype="i4").reshape(2, 3)
    low_level_attribute(g, "array", h5t.array_create(h5t.STD_I32LE, (3,)), (), np.array([7, 8, 9], dtype="<i4"),
                        mtype=h5t.array_create(h5t.NATIVE_INT32, (3,)))
    low_level_attribute(g, "bitfield", h5t.STD_B16LE, (1,), np.array([0x0f0f], dtype="u2"), mtype=h5t.NATIVE_B16)
    low_level_attribute(g, "time", h5t.UNIX_D32LE, (1,))


def spaces(f):
    f.create_dataset("null", data=h5py.Empty("f8"))
    f.create_dataset("null_string", data=h5py.Empty(h5py.string_dtype()))
    f.create_dataset("scalar_int", data=np.int64(7))
    f.create_dataset("scalar_float", data=np.float32(2.5))
    f.create_dataset("scalar_string", data="just one", dtype=h5py.string_dtype())
    f.create_dataset("empty_1d", data=np.zeros(0, dtype="f8"))
    f.create_dataset("empty_series", shape=(0,), maxshape=(None,), chunks=(16,), dtype="i8")
    f.create_dataset("empty_2d", data=np.zeros((3, 0), dtype="i4"))
    f.attrs["null"] = h5py.Empty("i4")
    f.attrs["empty_array"] = np.zeros(0, dtype="f8")
    f.attrs["scalar"] = np.float64(0.25)


def links(f):
    b = f.create_group("a/b")
    b.create_dataset("c", data=np.arange(3))
    b["up"] = f["a"]            # a hard-link loop: /a/b/up is /a
    b["root"] = f["/"]          # and back to the root
    f["a_again"] = f["a"]       # a second name of the same group
    f.create_dataset("data", data=np.array([1.0, 2.0]))
    f["same_data"] = f["data"]  # a second name of the same dataset
    f["alias"] = h5py.SoftLink("/data")
    f["alias_group"] = h5py.SoftLink("/a")
    f["dangling"] = h5py.SoftLink("/nowhere")
    f["cycle1"] = h5py.SoftLink("/cycle2")
    f["cycle2"] = h5py.SoftLink("/cycle1")
    f["external"] = h5py.ExternalLink("strings.h5", "/vlen_array")
    f["external_missing"] = h5py.ExternalLink("no_such_file.h5", "/x")
    f["through_external"] = h5py.SoftLink("/external_group/x")
    f["external_group"] = h5py.ExternalLink("types.h5", "/ints")


def deep(f):
    g = f
    for level in range(1, 201):
        g = g.create_group(f"level{level}")
    g.create_dataset("bottom", data=np.array([200], dtype="i4"))


def many_attributes(f):
    g = f.create_group("crowded")
    for i in range(20_000):
        g.attrs[f"a{i:05d}"] = np.int32(i)


def sparse_huge(f):
    n = 10**12
    s = f.create_dataset("series", shape=(n,), maxshape=(None,), chunks=(1024,), dtype="f8")
    s[:3] = [1.0, 2.0, 3.0]
    s[n - 1] = 42.5
    m = f.create_dataset("matrix", shape=(10**6, 10**6), chunks=(64, 64), dtype="f4")
    m[0, 0], m[-1, -1] = 1.0, 2.0
    z = f.create_dataset("compressed", shape=(n,), chunks=(4096,), compression="gzip", dtype="i8", fillvalue=-1)
    z[5] = 5
    f.create_dataset("huger", shape=(2**40, 2**40), chunks=(16, 16), dtype="u1")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((1,))
    h5d.create(f.id, b"huge_elements", h5t.array_create(h5t.STD_I32LE, (5_000_000,)), h5s.create_simple((1000,)), dcpl=dcpl)


def main():
    os.makedirs(OUT, exist_ok=True)
    # h5py's default file format, except deep.h5: its groups take a tenth of the space in the newer one.
    for name, fill, libver in [("strings", strings, "earliest"), ("types", types, "earliest"), ("spaces", spaces, "earliest"),
                               ("links", links, "earliest"), ("deep", deep, "latest"),
                               ("many_attributes", many_attributes, "earliest"), ("sparse_huge", sparse_huge, "earliest")]:
        path = os.path.join(OUT, name + ".h5")
        with h5py.File(path, "w", libver=libver) as f:
            fill(f)
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    main()
