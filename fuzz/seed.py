#!/usr/bin/env python3
"""Seed the fuzz corpora: the public captures whole for `capture`, each of
their packets (IP onwards) for `wire` and `engine`, and the packetdrill
corpus for `script`."""
import os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
public = os.path.join(here, "..", "..", "shared", "captures", "public")
corpus = lambda t: os.makedirs(os.path.join(here, "corpus", t), exist_ok=True) or os.path.join(here, "corpus", t)

def packets(path):
    """Packets of a classic pcap, from the IP header (raw, Ethernet, SLL)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    link = struct.unpack(e + "I", data[20:24])[0]
    skip = {1: 14, 113: 16, 101: 0, 228: 0, 229: 0}.get(link)
    if skip is None:
        return
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) > skip:
            yield pkt[skip:]

# The packetdrill corpus seeds `script`.
scripts = os.path.join(here, "..", "packetdrill")
for sub in ("active", "passive"):
    d = os.path.join(scripts, sub)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".pkt"):
            with open(os.path.join(corpus("script"), f"{sub}-{name}"), "wb") as f:
                f.write(open(os.path.join(d, name), "rb").read())

if not os.path.isdir(public):
    sys.exit(f"no public captures at {public}")
n = 0
for name in sorted(os.listdir(public)):
    path = os.path.join(public, name)
    if not name.endswith((".pcap", ".pcapng")):
        continue
    with open(os.path.join(corpus("capture"), name), "wb") as f:
        f.write(open(path, "rb").read()[:1 << 20])
    for i, p in enumerate(packets(path)):
        if i >= 200:
            break
        for t in ("wire", "engine"):
            with open(os.path.join(corpus(t), f"{name}-{i}"), "wb") as f:
                f.write(p)
        n += 1
print(f"seeded: {n} packets, {len(os.listdir(corpus('capture')))} captures")
