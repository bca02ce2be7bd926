#!/usr/bin/env python3
# An outside vxfab client: Python's ssl module and protoc-generated code, nothing of vxfab's own.
# Usage: outside-client.py GEN_DIR HOST PORT CREDENTIALS_FILE CA_FILE VNID MAC
#   CREDENTIALS_FILE: one PEM file (certificate, key, CA), or "-" to connect without a certificate.
# Prints one JSON line: {"node": ...} for an answer, {"error": CODE_NAME} for a refusal.
import json
import socket
import ssl
import sys

sys.path.insert(0, sys.argv[1])
from vxfab.v1 import wire_pb2, lookup_pb2  # noqa: E402

host, port, creds, ca_file, vnid, mac = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def send(sock, frame):
    body = frame.SerializeToString()
    sock.sendall(varint(len(body)) + body)


def read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError('connection closed')
        buf += chunk
    return buf


def recv(sock):
    shift, n = 0, 0
    while True:
        b = read_exact(sock, 1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    f = wire_pb2.Frame()
    f.ParseFromString(read_exact(sock, n))
    return f


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False  # the fabric CA is private; vxfab's own clients check the server identity instead
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cafile=ca_file)
if creds != '-':
    ctx.load_cert_chain(certfile=creds)  # certificate and key from the same file

with socket.create_connection((host, port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as sock:
        send(sock, wire_pb2.Frame(kind=wire_pb2.HELLO, hello=wire_pb2.Hello(protocol_version=1, role=wire_pb2.ROLE_BENCH, identity='python')))
        hello = recv(sock)
        assert hello.kind == wire_pb2.HELLO, hello
        req = lookup_pb2.Vl2Request(vnid=vnid, mac=mac)
        send(sock, wire_pb2.Frame(kind=wire_pb2.REQUEST, id=1, method='vxfab.v1.Lookup/Vl2', body=req.SerializeToString()))
        while True:
            f = recv(sock)
            if f.id != 1:
                continue
            if f.HasField('error') and f.error.code != 0:
                print(json.dumps({'error': wire_pb2.ErrorCode.Name(f.error.code), 'message': f.error.message}))
            else:
                rep = lookup_pb2.Vl2Reply()
                rep.ParseFromString(f.body)
                print(json.dumps({'node': rep.node, 'underlay': rep.underlay}))
            break
