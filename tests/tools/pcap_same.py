#!/usr/bin/env python3
"""Checks that every IPv4 or IPv6 packet of protocol PROTO in the first
capture is in the second one (or in one of the further ones) byte for byte
(IP header and payload; the link-layer header is ignored).  Exit 1 if the
first has none or any is missing or different.

    pcap_same.py SENT.pcap RECEIVED.pcap PROTO [RECEIVED2.pcap ...]
"""
import struct
import sys


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[14:] if linktype == 1 else frame
        if len(ip) < 40 and (len(ip) < 20 or ip[0] >> 4 != 4):
            continue
        if ip[0] >> 4 == 6:
            total = 40 + struct.unpack("!H", ip[4:6])[0]
        else:
            total = struct.unpack("!H", ip[2:4])[0]
        out.append(ip[:total])
    return out


def proto_of(ip):
    """The IPv4 protocol, or the IPv6 next header (no extension headers)."""
    return ip[6] if ip[0] >> 4 == 6 else ip[9]


def main():
    proto = int(sys.argv[3])
    sent = [p for p in packets(sys.argv[1]) if proto_of(p) == proto]
    got = [p for f in [sys.argv[2]] + sys.argv[4:] for p in packets(f)
           if proto_of(p) == proto]
    missing = [p for p in sent if p not in got]
    print("protocol %d: sent %d, received %d, missing or changed %d"
          % (proto, len(sent), len(got), len(missing)))
    for p in missing[:3]:
        print("  missing:", p[:40].hex())
    sys.exit(1 if not sent or missing else 0)


if __name__ == "__main__":
    main()
