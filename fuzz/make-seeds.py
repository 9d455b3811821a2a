#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus-seed/ from builder images made by the CLI.

Run from the repository root after `cargo build -p ckpt-cli`:
    python3 fuzz/make-seeds.py [path/to/ckpt]
Selector bytes are computed from `ckpt schema list/show --json`, so they stay right if
revisions or structs are added.
"""

import json
import os
import subprocess
import sys
import tempfile

CKPT = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ckpt"
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


def ckpt(*args):
    return subprocess.run([CKPT, *args], check=True, capture_output=True).stdout


REVS = json.loads(ckpt("schema", "list", "--json"))["revisions"]


def rev_index(rev):
    return next(i for i, r in enumerate(REVS) if r["id"] == rev)


def arch_index(rev, arch):
    arches = [a for a, _ in REVS[rev_index(rev)]["arches"]]
    return arches.index(arch)


def sample(rev, arch, path):
    ckpt("sample", "--rev", rev, "--arch", arch, "--tasks", "1", "--memory", "0", "-o", path)
    with open(path, "rb") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 40 * 1024, (name, len(data))
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
