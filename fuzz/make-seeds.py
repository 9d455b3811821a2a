#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus-seed/ from builder images made by the CLI.

Run from the repository root after `cargo build -p ckpt-cli`:
    python3 fuzz/make-seeds.py [--only=TARGET,...] [path/to/ckpt]
Selector bytes are computed from `ckpt schema list/show --json`, so they stay right if
revisions or structs are added. `--only` rewrites the seeds of those targets alone.
"""

import json
import os
import subprocess
import sys
import tempfile

ARGS = [a for a in sys.argv[1:] if not a.startswith("--only=")]
ONLY = [t for a in sys.argv[1:] if a.startswith("--only=") for t in a[7:].split(",")]
CKPT = ARGS[0] if ARGS else "target/debug/ckpt"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-seed")

# (revision, arch) of the read/convert seeds, and the target revision of each convert seed
# (pairs that `ckpt convert --allow-lossy --cwd / --root /` converts today).
COMBOS = [
    ("pre-v19.a", "x86_32", "pre-v19.c"),
    ("v19-rc2.x86_64", "x86_64", "v21-rc"),
    ("v21-rc.netns", "s390x", "v19"),
    ("v21-rc", "ppc64", "v19-rc2"),
    ("v23-rc2", "x86_64", "v23-rc1.pids"),
    ("samsung-3.0", "arm", "samsung-3.0"),  # no other arm revision converts it yet
]
# (revision, arch, record) whose dumped fields make the encode seeds.
ENCODE = [
    ("v23-rc2", "x86_64", "HEADER"),
    ("v23-rc2", "x86_64", "TASK"),
    ("pre-v19.a", "x86_32", "VMA"),
    ("v21-rc.netns", "s390x", "FILE"),
    ("samsung-3.0", "arm", "CPU"),
]
# (revision, arch, bytes of memory, edits) whose `ckpt dump --payloads` makes the
# encode_dump seeds: one task without the optional objects, so that a seed stays under
# 64 KiB; the ones with memory have streamed PGARR bodies on chunk lines. Edits set
# fields: s390x's CPU has float views of its FP registers (fprs[i].d, .f), and a NaN
# there dumps as null (fuzz/regressions/encode-dump-nan-float.bin).
DUMPS = [
    ("pre-v19.a", "x86_32", 4096, {}),
    ("v21-rc.netns", "s390x", 0, {("CPU", "fprs[0].ui"): 0x7FF8000000000001}),
    ("v23-rc2", "x86_64", 4096, {}),
    ("samsung-3.0", "arm", 0, {}),
]


def ckpt(*args):
    return subprocess.run([CKPT, *args], check=True, capture_output=True).stdout


REVS = json.loads(ckpt("schema", "list", "--json"))["revisions"]


def rev_index(rev):
    return next(i for i, r in enumerate(REVS) if r["id"] == rev)


def arch_index(rev, arch):
    arches = [a for a, _ in REVS[rev_index(rev)]["arches"]]
    return arches.index(arch)


def sample(rev, arch, path, memory=0, *more):
    ckpt("sample", "--rev", rev, "--arch", arch, "--tasks", "1", "--memory", str(memory), *more,
         "-o", path)
    with open(path, "rb") as f:
        return f.read()


def write(target, name, data, limit=40 * 1024):
    if ONLY and target not in ONLY:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < limit, (name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


with tempfile.TemporaryDirectory() as tmp:
    for rev, arch, to in COMBOS:
        img = sample(rev, arch, os.path.join(tmp, "img"))
        sel = bytes([rev_index(rev), arch_index(rev, arch)])
        write("read", f"{rev}.{arch}", sel + img)
        targets = [r["id"] for r in REVS if arch in [a for a, _ in r["arches"]]]
        write("convert", f"{rev}.{arch}.to.{to}", sel + bytes([targets.index(to)]) + img)

    for rev, arch, record in ENCODE:
        path = os.path.join(tmp, "img")
        sample(rev, arch, path)
        lines = ckpt("dump", "--rev", rev, path).decode().splitlines()
        rec = next(
            json.loads(line)
            for line in lines[1:]
            if json.loads(line).get("name") == record and "fields" in json.loads(line)
        )
        structs = [s["name"] for s in json.loads(ckpt("schema", "show", rev, "--arch", arch, "--json"))["structs"]]
        idx = structs.index(rec["struct"])
        head = bytes([rev_index(rev), arch_index(rev, arch)]) + idx.to_bytes(2, "little")
        body = json.dumps(rec["fields"], separators=(",", ":")).encode()
        write("encode", f"{rev}.{arch}.{rec['struct']}", head + b"\x00" + body)
        # The same struct with its first fields named by index, in a buffer 8 bytes short.
        by_index = {"#0": 1, "#1": 2, "#2": 3}
        write(
            "encode",
            f"{rev}.{arch}.{rec['struct']}.by-index-cut",
            head + bytes([0x88]) + json.dumps(by_index, separators=(",", ":")).encode(),
        )

    # encode_dump: `[rev, arch, lines...]`, the header line made by the target from the
    # selectors, so a seed is a dump without its first line.
    omit = "files,ipc,signals,zombies,threads,tty,pidns"
    for rev, arch, memory, edits in DUMPS:
        path = os.path.join(tmp, "img")
        sample(rev, arch, path, memory, "--omit", omit)
        lines = ckpt("dump", "--payloads", path).split(b"\n", 1)[1]
        if edits:
            recs = [json.loads(x) for x in lines.splitlines()]
            for (name, field), value in edits.items():
                rec = next(r for r in recs if r.get("name") == name and "fields" in r)
                rec["fields"][field] = value
            lines = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in recs)
        sel = bytes([rev_index(rev), arch_index(rev, arch)])
        write("encode_dump", f"{rev}.{arch}", sel + lines, limit=64 * 1024)

    def line(**members):
        return json.dumps(members, separators=(",", ":")).encode() + b"\n"

    # Selector 0xff: the lines bring their own header (a newer 1.x, with members that
    # encode ignores).
    head = line(kind="header", format_version="1.7.0", revision="v23-rc2", commit="x",
                arch="ppc64", payloads=True)
    tail = line(kind="record", name="TAIL", len=8, raw="")
    write("encode_dump", "own-header", b"\xff\x00" + head + tail)
    # The kinds of lines one by one: a record by its fields alone, a chunked record and
    # its chunks, a headerless page, a payload record with fields that are not applied,
    # CRLF line ends.
    sel = bytes([rev_index("v23-rc2"), arch_index("v23-rc2", "x86_64")])
    pieces = (
        line(kind="record", name="FILE_DESC", len=24, struct="ckpt_hdr_file_desc",
             fields={"fd_objref": 3, "fd_descriptor": -1, "fd_close_on_exec": 1})
        + line(kind="record", name="PGARR", len=24, chunked=True)
        + line(kind="chunk", hex="00" * 8)
        + line(kind="chunk", hex="ff" * 8).replace(b"\n", b"\r\n")
        + line(kind="record", name="RAW_PAGE", len=4, headerless=True, body="01020304")
        + line(kind="record", name="STRING", len=12, payload_of="FILE name", body="2f746d70",
               fields={"h.len": 1})
    )
    write("encode_dump", "pieces", sel + pieces)

    # container: small samples annotated (kernel config, notes), in both byte orders; and
    # a dump of one for encode_dump, bringing its own header with a container member.
    cfg = os.path.join(tmp, "config")
    with open(cfg, "w") as f:
        f.write("CONFIG_EPOLL=y\n# CONFIG_INET is not set\n")
    for rev, arch in [("v23-rc2", "x86_64"), ("v21-rc.netns", "s390x")]:
        img = os.path.join(tmp, "img")
        sample(rev, arch, img, 0, "--omit", omit)
        c = os.path.join(tmp, "c.ckpt")
        ckpt("annotate", img, "--config", cfg, "--note", "site=lab=1", "-o", c)
        with open(c, "rb") as f:
            write("container", f"{rev}.{arch}", f.read(), limit=64 * 1024)
        write("encode_dump", f"own-header-container.{rev}.{arch}",
              b"\xff\x00" + ckpt("dump", "--payloads", c), limit=64 * 1024)
