"""No Luhn-valid card number reaches a transcript, whatever path it takes."""

from __future__ import annotations

import re

from simulator.faults import Split
from simulator.masking import luhn_ok
from simulator.streams import byte_link, message_link
from simulator.world import World

PAN = "4761739001010010"  # a Visa test card number (Luhn-valid)
OTHER = "5413330089010608"  # not registered: must be caught by the generic scan


def _luhn_runs(text: str) -> list[str]:
    found = []
    for m in re.finditer(r"[0-9]{13,19}", text):
        run = m.group(0)
        for i in range(len(run)):
            for j in range(i + 13, min(len(run), i + 19) + 1):
                if luhn_ok(run[i:j]) and run[i:j] in (PAN, OTHER):
                    found.append(run[i:j])
    return found


def _everything_written(w: World) -> str:
    parts = [w.transcript.jsonl()]
    for e in w.transcript.entries:
        raw = bytes.fromhex(e.hex.replace("*", "0")) if e.hex else b""
        parts.append(raw.decode("latin-1"))
        parts.append(e.label)
    return "\n".join(parts)


def test_no_card_number_in_transcript_in_any_form():
    w = World(seed=1)
    w.redactor.add_pan(PAN)
    w.faults.add(Split(port="pos", pieces=3))
    host, pinpad = byte_link(w, "host", "pinpad", labeler=lambda b: f"data {b!r}")
    pos, server = message_link(w, "pos", "server", labeler=lambda m: f"message {m}")

    def run():
        host.write(b"PAN=" + PAN.encode() + b";track2=" + PAN.encode() + b"=25121011234567")
        host.write(bytes.fromhex("5A08" + PAN))  # BCD in a TLV
        host.write(OTHER.encode())
        pos.send(f'{{"pan": "{PAN}", "other": "{OTHER}"}}')
        w.transcript.event("pinpad", f"card {PAN} inserted, other {OTHER}")
        yield pinpad.read()
        yield server.recv()

    w.process(run())
    w.run()
    written = _everything_written(w)
    assert _luhn_runs(written) == []
    assert "476173******0010" in written  # masked first 6 / last 4 remain for humans


def test_track_discretionary_data_of_a_registered_card_is_hidden():
    w = World(seed=1)
    w.redactor.add_pan(PAN)
    a, b = byte_link(w, "reader", "host", labeler=lambda d: d.decode("latin-1"))
    a.write(f";{PAN}=25121011234567?".encode())
    w.run()
    written = _everything_written(w)
    assert "1011234567" not in written
    assert "476173******0010=2512" in written


def test_masking_keeps_binary_data_intact():
    w = World(seed=1)
    a, b = byte_link(w, "a", "b")
    rng = w.rng("data")
    # every byte's hex starts with a letter, so no digit run can look like a card number
    data = bytes(rng.randrange(0xA0, 0x100) for _ in range(4096))
    a.write(data)
    w.run()
    assert w.transcript.entries[0].hex == data.hex()


def _secret_forms_on_the_wire(secret: bytes) -> dict[str, bytes]:
    import base64

    forms = {
        "binary": secret,
        "hex lower": secret.hex().encode(),
        "hex upper": secret.hex().upper().encode(),
    }
    for skip in range(3):
        forms[f"base64 at offset {skip}"] = base64.b64encode(b"xy"[:skip] + secret + b"z")
        forms[f"base64url at offset {skip}"] = base64.urlsafe_b64encode(
            b"\xff\xfe"[:skip] + secret)
        forms[f"base64 of hex at offset {skip}"] = base64.b64encode(
            b"ab"[:skip] + secret.hex().upper().encode())
    return forms


def _readable(w: World) -> list[bytes]:
    """Everything the transcript lets a reader reconstruct: each entry's bytes (masked
    nibbles as zero) and its label, plus the file text itself."""
    out = [w.transcript.jsonl().encode()]
    for e in w.transcript.entries:
        out.append(bytes.fromhex(e.hex.replace(" ", "").replace("*", "0")))
        out.append(e.label.encode())
    return out


def _leaks(secret: bytes, blobs: list[bytes]) -> list[str]:
    import base64

    found = []
    needles = {
        "binary": secret, "hex": secret.hex().encode(), "HEX": secret.hex().upper().encode(),
    }
    for blob in blobs:
        for name, needle in needles.items():
            if needle in blob:
                found.append(name)
        # decode every base64-looking run at each alignment and look inside
        for run in re.findall(rb"[A-Za-z0-9+/_=-]{8,}", blob):
            for cut in range(4):
                chunk = run[cut:]
                chunk = chunk[: len(chunk) // 4 * 4]
                for dec in (base64.b64decode, base64.urlsafe_b64decode):
                    try:
                        plain = dec(chunk)
                    except ValueError:
                        continue
                    if secret in plain or secret.hex().upper().encode() in plain:
                        found.append("base64")
    return found


def test_a_registered_secret_is_hidden_in_every_wire_form() -> None:
    pin_block = bytes.fromhex("041271FEDCBA9876")  # an ISO 9564 format 0 PIN block
    w = World(seed=1)
    w.redactor.add_secret(pin_block)
    host, pinpad = byte_link(w, "host", "pinpad", labeler=lambda b: b.decode("latin-1"))
    pos, server = message_link(w, "pos", "server", labeler=lambda m: f"message {m}")
    forms = _secret_forms_on_the_wire(pin_block)
    for name, data in forms.items():
        host.write(b"GPN000" + data + b"\x17")
        pos.send('{"pinBlock":"' + data.decode("latin-1") + '","form":"' + name + '"}')
        w.transcript.event("pinpad", f"answer {data.decode('latin-1')}")
    w.run()
    blobs = _readable(w)
    assert _leaks(pin_block, blobs) == []
    # the check itself finds a secret that is there
    assert "base64" in _leaks(pin_block, [b"x" + forms["base64 at offset 1"]])


def test_a_digit_secret_is_hidden_in_bcd_too() -> None:
    secret = b"4012345678"  # e.g. a key check or account value written as digits
    w = World(seed=1)
    w.redactor.add_secret(secret)
    a, b = byte_link(w, "a", "b")
    a.write(b"\x01" + bytes.fromhex(secret.decode()) + b"\x02")
    a.write(b"\x01" + bytes.fromhex("12345" + "F") + b"\x02")  # not the secret: kept
    w.run()
    sent = w.transcript.select(port="a", direction="tx")
    assert sent[0].hex == "01" + "2a" * 5 + "02"  # '*' bytes in its place
    assert sent[1].hex == "0112345f02"


def test_a_secret_registered_as_hex_text_is_hidden_as_binary() -> None:
    w = World(seed=1)
    w.redactor.add_secret("041271FEDCBA9876")
    a, b = byte_link(w, "a", "b")
    a.write(bytes.fromhex("041271FEDCBA9876"))
    w.run()
    assert w.transcript.entries[0].hex.replace(" ", "") == "2a" * 8


def test_a_masked_pan_in_hex_keeps_its_first_six_and_last_four_and_stays_hex():
    """The APDU trace shows what the text shows: 476173 ... 0010, hidden nibbles as f."""
    from simulator.masking import Redactor

    r = Redactor()
    r.add_pan(PAN)
    for raw in ("5A08" + PAN, "0011" + PAN + "AA", "5711" + PAN + "D2512201123400000F"):
        hexed = r.hex(bytes.fromhex(raw))
        bytes.fromhex(hexed)  # valid hex, same length as the data
        assert len(hexed) == len(raw)
        assert PAN[:6] + "ffffff" + PAN[-4:] in hexed, hexed
        assert PAN.lower() not in hexed
    assert r.hex(bytes.fromhex("5711" + PAN + "D2512201123400000F")).endswith("d2512" + "f" * 13)
    # an unregistered card behind its EMV tag is found and masked the same way
    other = Redactor().hex(bytes.fromhex("5A08" + PAN))
    assert other == "5a08" + PAN[:6] + "ffffff" + PAN[-4:]
