#!/usr/bin/env python3
# Prints one JSON line per VXLAN (UDP 4789 over IPv4) frame seen on any interface of the current
# network namespace, for at most DURATION seconds and COUNT frames. Used by test/agent/e2e.test.ts
# instead of tshark: needs only python3 and root (AF_PACKET).
import json, socket, struct, sys, time

duration, count = float(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.settimeout(0.2)
print(json.dumps({"ready": True}), flush=True)
end, seen = time.time() + duration, 0
while time.time() < end and seen < count:
    try:
        data = s.recv(65535)
    except socket.timeout:
        continue
    if len(data) < 14 + 20 + 8 + 8 + 14 or data[12:14] != b"\x08\x00" or data[23] != 17:
        continue
    ihl = (data[14] & 0x0F) * 4
    udp = 14 + ihl
    _, dport = struct.unpack("!HH", data[udp:udp + 4])
    if dport != 4789:
        continue
    vx = udp + 8
    inner = vx + 8
    print(json.dumps({
        "src": socket.inet_ntoa(data[26:30]), "dst": socket.inet_ntoa(data[30:34]),
        "vni": int.from_bytes(data[vx + 4:vx + 7], "big"), "i_flag": bool(data[vx] & 0x08),
        "inner_dst": data[inner:inner + 6].hex(":"), "inner_src": data[inner + 6:inner + 12].hex(":"),
    }), flush=True)
    seen += 1
