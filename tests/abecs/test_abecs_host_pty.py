"""A host that speaks the parameter-tagged ABECS 2.12 commands, byte for byte as the
specification writes them, completes a contact sale against ``cardloop reader`` on a
real pty.

The host here shares no code with the pinpad: frames are built with
``binascii.crc_hqx`` and hand escaping, commands are literal byte strings, responses
are parsed by the few lines below. (The EMV table records it loads are the rig's,
encoded by the project's table codec: loading tables is the set-up, not what is tested.)
"""

from __future__ import annotations

import binascii
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.rig import aid_records

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed"),
]

SYN, ETB, DC3, ACK, NAK, EOT, CAN = 0x16, 0x17, 0x13, 0x06, 0x15, 0x04, 0x18


def frame(pkt: bytes) -> bytes:
    body = pkt.replace(b"\x13", b"\x13\x33").replace(b"\x16", b"\x13\x36").replace(
        b"\x17", b"\x13\x37")
    crc = binascii.crc_hqx(pkt + b"\x17", 0)
    return b"\x16" + body + b"\x17" + crc.to_bytes(2, "big")


class RawHost:
    """Just enough of the host's side of §2.2 to run a sale."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port

    def _byte(self, deadline: float) -> int:
        while time.monotonic() < deadline:
            got = self.port.read(1)
            if got:
                return got[0]
        raise TimeoutError("the pinpad stopped answering")

    def _packet(self, deadline: float) -> bytes:
        while self._byte(deadline) != SYN:
            pass
        data = bytearray()
        while (b := self._byte(deadline)) != ETB:
            data.append((self._byte(deadline) - 0x20) if b == DC3 else b)
        crc = (self._byte(deadline) << 8) | self._byte(deadline)
        assert binascii.crc_hqx(bytes(data) + b"\x17", 0) == crc, "bad CRC from the pinpad"
        self.port.write(bytes((ACK,)))
        return bytes(data)

    def command(self, pkt: bytes, seconds: float = 60.0) -> bytes:
        """Send, wait for ACK, return the response (NTM notifications are collected)."""
        deadline = time.monotonic() + seconds
        self.port.write(frame(pkt))
        assert self._byte(deadline) == ACK
        while True:
            rsp = self._packet(deadline)
            if rsp[:3] == b"NTM":
                self.notes.append(rsp[9:].decode("latin-1"))
                continue
            assert rsp[:3] == pkt[:3], rsp
            return rsp

    notes: list[str] = []


def tagged(rsp: bytes) -> dict[int, bytes]:
    """RSP_ID RSP_STAT, then blocks N3 of [id X2][len X2][value]."""
    assert rsp[3:6] == b"000", rsp[:6]
    out: dict[int, bytes] = {}
    pos = 6
    while pos < len(rsp):
        n = int(rsp[pos : pos + 3])
        blk, pos = rsp[pos + 3 : pos + 3 + n], pos + 3 + n
        i = 0
        while i < len(blk):
            pid, plen = int.from_bytes(blk[i : i + 2], "big"), int.from_bytes(blk[i + 2 : i + 4],
                                                                               "big")
            out[pid] = blk[i + 4 : i + 4 + plen]
            i += 4 + plen
    return out


def block(data: bytes) -> bytes:
    return f"{len(data):03d}".encode() + data


def test_parameter_tagged_contact_sale_over_pty(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "reader", "--card", "visa-online-pin",
         "--duration", "120", "--factor", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        with serial.Serial(path, 19200, timeout=0.2) as port:
            host = RawHost(port)
            port.write(bytes((CAN,)))
            deadline = time.monotonic() + 5
            while host._byte(deadline) != EOT:
                pass
            assert host.command(b"OPN") == b"OPN000"
            assert host.command(b"TLI012" + b"00" + b"0000000042") in (b"TLI000", b"TLI020")
            for record in aid_records():  # one record per TLR: a block holds 999 bytes
                assert host.command(b"TLR" + block(b"01" + record)) == b"TLR000"
            assert host.command(b"TLE") == b"TLE000"
            # MNU: "PAGAMENTO" with two options; the cardholder takes the first
            mnu = (b"MNU040" + b"\x00\x20\x00\x0a" + b"1.CREDITO " + b"\x00\x20\x00\x09"
                   + b"2.DEBITO " + b"\x00\x1b\x00\x09" + b"PAGAMENTO")
            assert host.command(mnu) == b"MNU000006\x80\x4d\x00\x0201"
            # GCD 0033h "NÚMERO DE PARCELAS", 1 to 2 digits, 30 s
            gcd = b"GCD021" + (b"\x00\x0b\x00\x02\x00\x33" + b"\x00\x0d\x00\x01\x01"
                               + b"\x00\x0e\x00\x01\x02" + b"\x00\x0c\x00\x01\x1e")
            assert host.command(gcd) == b"GCD000005\x80\x4d\x00\x011"
            # GCX: R$ 10,00, chip or stripe, network 08's tables, asks for 5F24
            gcx = (b"GCX057" + b"\x00\x17\x00\x05" + b"00000" + b"\x00\x10\x00\x02" + b"08"
                   + b"\x00\x13\x00\x0c" + b"000000001000" + b"\x00\x15\x00\x06" + b"261125"
                   + b"\x00\x16\x00\x06" + b"120000" + b"\x00\x04\x00\x02" + b"\x5f\x24")
            card = tagged(host.command(gcx))
            assert card[0x804F] == b"03" and card[0x8051][:2] == b"08"
            assert card[0x8054][:3] == b"\x5f\x24\x03"
            pan = card[0x8052].decode()
            assert card[0x8042].startswith(pan.encode() + b"=")
            # GTK in clear: the PAN and track 2
            full = tagged(host.command(b"GTK"))
            assert full[0x804A].hex().upper().rstrip("F") == pan
            assert full[0x8045].hex().upper().startswith(pan + "D")
            # GOX: DUKPT:TDES:PIN at index 16, TVR, cryptogram, CID
            gox = (b"GOX042" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c"
                   + b"000000001000" + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16"
                   + b"\x00\x04\x00\x05" + b"\x95\x9f\x26\x9f\x27")
            goc = tagged(host.command(gox))
            assert goc[0x8056][:1] == b"2" and goc[0x8056][2:3] == b"2"  # online, online PIN
            bdk = load_test_keys()[16].bdk
            assert decrypt_pin(bdk, goc[0x804C], goc[0x8057], pan) == "1234"
            assert goc[0x8054][:2] == b"\x95\x05"
            # FCX: the network approved with ARC 00
            fcx = (b"FCX021" + b"\x00\x19\x00\x04" + b"0000" + b"\x00\x1c\x00\x02" + b"00"
                   + b"\x00\x04\x00\x03" + b"\x95\x9f\x27")
            fin = tagged(host.command(fcx))
            assert fin[0x8058] in (b"000", b"100") and fin[0x8054][:2] == b"\x95\x05"
            assert host.command(b"CLX012" + b"\x00\x1b\x00\x08" + b"OBRIGADO") == b"CLX000"
            assert any(n.startswith("SELECIONADO") for n in host.notes)
    finally:
        proc.terminate()
        proc.wait(10)


def test_parameter_tagged_contactless_sale_over_pty(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "reader", "--card", "visa-contactless",
         "--entry", "tap", "--duration", "120", "--factor", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        with serial.Serial(path, 19200, timeout=0.2) as port:
            host = RawHost(port)
            assert host.command(b"OPN") == b"OPN000"
            assert host.command(b"TLI012" + b"00" + b"0000000042") in (b"TLI000", b"TLI020")
            for record in aid_records():
                assert host.command(b"TLR" + block(b"01" + record)) == b"TLR000"
            assert host.command(b"TLE") == b"TLE000"
            # GCX with the antenna on (GCXOPT "1xxxx"), R$ 10,00
            gcx = (b"GCX051" + b"\x00\x17\x00\x05" + b"10000" + b"\x00\x10\x00\x02" + b"08"
                   + b"\x00\x13\x00\x0c" + b"000000001000" + b"\x00\x15\x00\x06" + b"261125"
                   + b"\x00\x16\x00\x06" + b"120000")
            card = tagged(host.command(gcx))
            assert card[0x804F] == b"06" and card[0x8060] == b"00"  # contactless EMV, a card
            gox = (b"GOX042" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c"
                   + b"000000001000" + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16"
                   + b"\x00\x04\x00\x05" + b"\x95\x9f\x26\x9f\x27")
            goc = tagged(host.command(gox))
            assert goc[0x8056][2:3] == b"0" and 0x8057 not in goc  # no PIN under the limit
            fcx = b"FCX014" + b"\x00\x19\x00\x04" + b"0000" + b"\x00\x1c\x00\x02" + b"00"
            assert tagged(host.command(fcx))[0x8058] == b"000"
            assert host.command(b"CLX") == b"CLX000"
    finally:
        proc.terminate()
        proc.wait(10)
