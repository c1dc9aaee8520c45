"""What the cardholder types or picks on request: GCD (§3.3.8) and MNU (§3.3.13)."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.customer import CANCEL_KEY
from virtual_devices.abecs.extended.base import Gen, handles, params, tagged, wait_for
from virtual_devices.abecs.fields import Command, Response

GCD_MESSAGES: dict[int, str] = {
    0x01: "DIGITE O DDD", 0x02: "REDIGITE O DDD", 0x03: "DIGITE O TELEFONE",
    0x04: "REDIGITE O TELEFONE", 0x05: "DIGITE DDD+TELEFONE", 0x06: "REDIGITE DDD+TELEFONE",
    0x07: "DIGITE O CPF", 0x08: "REDIGITE O CPF", 0x09: "DIGITE O RG", 0x0A: "REDIGITE O RG",
    0x0B: "DIGITE OS 4 ÚLTIMOS DÍGITOS", 0x0C: "DIGITE CÓDIGO DE SEGURANÇA",
    0x0D: "DIGITE O CNPJ", 0x0E: "REDIGITE O CNPJ", 0x0F: "DIGITE A DATA (DDMMAAAA)",
    0x10: "DIGITE A DATA (DDMMAA)", 0x11: "DIGITE A DATA (DDMM)", 0x12: "DIGITE O DIA (DD)",
    0x13: "DIGITE O MÊS (MM)", 0x14: "DIGITE O ANO (AA)", 0x15: "DIGITE O ANO (AAAA)",
    0x16: "DATA DE NASCIMENTO (DDMMAAAA)", 0x17: "DATA DE NASCIMENTO (DDMMAA)",
    0x18: "DATA DE NASCIMENTO (DDMM)", 0x19: "DIA DO NASCIMENTO (DD)",
    0x1A: "MÊS DO NASCIMENTO (MM)", 0x1B: "ANO DO NASCIMENTO (AA)",
    0x1C: "ANO DO NASCIMENTO (AAAA)", 0x1D: "DIGITE IDENTIFICAÇÃO",
    0x1E: "CÓDIGO DE FIDELIDADE", 0x1F: "NÚMERO DA MESA", 0x20: "QUANTIDADE DE PESSOAS",
    0x21: "DIGITE QUANTIDADE", 0x22: "NÚMERO DA BOMBA", 0x23: "NÚMERO DA VAGA",
    0x24: "NÚMERO DO GUICHÊ/CAIXA", 0x25: "CÓDIGO DO VENDEDOR", 0x26: "CÓDIGO DO GARÇOM",
    0x27: "NOTA DO ATENDIMENTO", 0x28: "NÚMERO DA NOTA FISCAL", 0x29: "NÚMERO DA COMANDA",
    0x2A: "PLACA DO VEÍCULO", 0x2B: "DIGITE QUILOMETRAGEM", 0x2C: "QUILOMETRAGEM INICIAL",
    0x2D: "QUILOMETRAGEM FINAL", 0x2E: "DIGITE PORCENTAGEM",
    0x2F: "PESQUISA DE SATISFAÇÃO (0 a 10)", 0x30: "AVALIE ATENDIMENTO (0 a 10)",
    0x31: "DIGITE O TOKEN", 0x32: "DIGITE NÚMERO DO CARTÃO", 0x33: "NÚMERO DE PARCELAS",
    0x34: "CÓDIGO DO PLANO", 0x35: "CÓDIGO DO PRODUTO",
}


GCD_SECURITY_CODE = 0x0C  # "DIGITE CÓDIGO DE SEGURANÇA"


def _two_lines(text: str) -> tuple[str, str]:
    """A table message on a 16-column display: wrapped at a space when it is longer."""
    if len(text) <= 16:
        return text, ""
    cut = text.rfind(" ", 0, 17)
    cut = cut if cut > 0 else 16
    return text[:cut], text[cut:].strip()[:16]


@handles("GCD")
def gcd(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    idx = int.from_bytes(p.need(t.SPE_MSGIDX), "big")
    if idx not in GCD_MESSAGES:
        return Response("GCD", m.ST_INVPARM)
    lo = p.number(t.SPE_MINDIG, 0)
    hi = p.number(t.SPE_MAXDIG, 32)
    if not 0 <= lo <= 32 or not 1 <= hi <= 32 or hi < lo:
        return Response("GCD", m.ST_INVPARM)
    timeout = p.number(t.SPE_TIMEOUT) or None
    prompt = GCD_MESSAGES[idx]
    pinpad.display.show_lines(*_two_lines(prompt))
    got = yield from wait_for(pinpad, pinpad.customer.type_digits(pinpad, prompt, lo, hi),
                               timeout)
    if got is None:
        pinpad.display.clear()
        return Response("GCD", m.ST_TIMEOUT)
    if got == CANCEL_KEY:
        pinpad.display.clear()
        return Response("GCD", m.ST_CANCEL)
    pinpad.display.clear()
    value = str(got).encode("ascii")
    if idx == GCD_SECURITY_CODE:
        # a card's security code must not be kept (PCI DSS 3.2): too short to be a
        # secret of its own, it is registered in the form it crosses the line, the
        # answer's whole PP_VALUE field, so transcripts show neither
        pinpad.world.redactor.add_secret(b"".join(t.encode_params([(t.PP_VALUE, value)])))
    return tagged("GCD", [(t.PP_VALUE, value)])


@handles("MNU")
def mnu(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    options = [o.decode("latin-1") for o in p.all(t.SPE_MNUOPT)]
    if not options:
        return Response("MNU", m.ST_MANDAT)
    if len(options) > 20 or any(not 0 < len(o) <= 24 for o in options):
        return Response("MNU", m.ST_INVPARM)
    title = p.get(t.SPE_DSPMSG)
    timeout = p.number(t.SPE_TIMEOUT) or None
    # a 2x16 display shows the title (or the first option) and the option under the cursor
    head = title.decode("latin-1") if title is not None else ""
    pinpad.display.show_lines(head or options[0], options[0] if head else
                              (options[1] if len(options) > 1 else ""))
    got = yield from wait_for(pinpad, pinpad.customer.choose_option(pinpad, head, options),
                               timeout)
    if got is None:
        pinpad.display.clear()
        return Response("MNU", m.ST_TIMEOUT)
    if got == CANCEL_KEY:
        pinpad.display.clear()
        return Response("MNU", m.ST_CANCEL)
    pinpad.display.show_lines(head, options[int(got)])
    return tagged("MNU", [(t.PP_VALUE, f"{int(got) + 1:02d}".encode())])
