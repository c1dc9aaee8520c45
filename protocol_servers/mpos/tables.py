"""What the bridge gets from the acquirer side: terminal tables and the card_hash key.

The shipped SDK downloaded EMV tables from Pagar.me's TMS (``/terminal/updates``,
mpos-bridge.md §3.5) and fetched the ``card_hash`` public key from the API (§3.4). In
cardloop both come from the acquirer host; this module turns its terminal
configuration into the ABECS table records the bridge loads with TLI/TLR/TLE, and
into the application rows the ``applications`` filter of process selects from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from virtual_devices.abecs.tables import AidRecord, CapkRecord, ctls_fields
from virtual_devices.emv.terminal import TerminalConfig

# The GOC tag list of Pagar.me's TMS sample (§3.5 ``authorization_emv_tags``).
AUTHORIZATION_TAGS: tuple[int, ...] = (
    0x5F2A,
    0x82,
    0x95,
    0x9A,
    0x9C,
    0x9F02,
    0x9F10,
    0x9F1A,
    0x9F1E,
    0x9F26,
    0x9F33,
    0x9F36,
    0x9F37,
    0x9F27,
    0x9F34,
)
# The FNC tag list: what the card says after the second GENERATE AC (§4.9 sample).
FINISH_TAGS: tuple[int, ...] = (0x82, 0x9F27, 0x9F26, 0x9F36, 0x95, 0x8F, 0x9F37)


@dataclass(frozen=True)
class ApplicationRow:
    """One stored application (§3.5 ``applications[]``) and where it sits in the pinpad."""

    brand: str
    payment_method: int  # 1 credit, 2 debit
    acquirer: int
    record_index: str
    aid: bytes


@dataclass(frozen=True)
class TerminalTables:
    version: str  # TABVER, 10 characters
    records: tuple[bytes, ...]  # TLR records (AIDs then CAPKs)
    applications: tuple[ApplicationRow, ...]
    # GOC's risk management parameters (§4.8), from the acquirer's first AID record:
    # no defaults, every set of tables carries its own
    floor_limit: int
    target_percent: int
    threshold: int
    max_target_percent: int
    acquirer_index: int = 0  # 0 = unified version for every acquirer (§4.10)
    # the acquirer's online-PIN keys (TMS acquirers[]: pin_encryption_method, key_index;
    # libmpos's session_key, the working key under the master key, H32)
    pin_method: int = 3  # ABECS METHOD: 3 DUKPT:TDES, 1 MK/WK:TDES
    pin_key: int = 16
    working_key: str = "0" * 32

    def select(self, filters: tuple[tuple[str, int], ...] | None) -> tuple[ApplicationRow, ...]:
        """Rows for an ``applications`` filter (§3.3): the first row per (brand, method),
        except Elo debit which takes every row (PR #48); None -> no filter at all."""
        if filters is None:
            return self.applications
        chosen: list[ApplicationRow] = []
        for brand, method in filters:
            rows = [
                r
                for r in self.applications
                if r.brand.lower() == brand.lower() and r.payment_method == method
            ]
            if brand.lower() == "elo" and method == 2:
                picked = rows
            else:
                picked = rows[:1]
            chosen.extend(r for r in picked if r not in chosen)
        return tuple(chosen)


@lru_cache(maxsize=32)
def tables_from_config(config: TerminalConfig) -> TerminalTables:
    """ABECS records (284-byte AIDs as libabecs sends, 611-byte CAPKs) for a configuration.

    Both are frozen, so the records are built once per configuration, not once per world
    (every simulated sale of a bench or a conformance example builds a world).
    """
    records: list[bytes] = []
    rows: list[ApplicationRow] = []
    for p in config.aids:
        rec = AidRecord(
            acquirer=p.acq_index,
            record_index=p.rec_index,
            aid=p.aid,
            app_type=p.app_type,
            label=p.label,
            app_versions=tuple((list(v.hex().upper() for v in p.app_versions) + ["0000"] * 3)[:3]),  # type: ignore[arg-type]
            country=p.country,
            currency=p.currency,
            exponent=p.currency_exponent,
            merchant_id=p.merchant_id,
            mcc=p.mcc,
            terminal_id=p.terminal_id,
            capabilities=p.capabilities.hex().upper(),
            add_capabilities=p.additional_capabilities.hex().upper(),
            terminal_type=p.terminal_type,
            tac_default=p.tac_default.hex().upper(),
            tac_denial=p.tac_denial.hex().upper(),
            tac_online=p.tac_online.hex().upper(),
            floor_limit=p.floor_limit,
            tcc=p.tcc,
            tdol=p.tdol.hex().upper(),
            ddol=p.ddol.hex().upper(),
            arc_offline=p.arc_offline,
            **ctls_fields(p),
        )
        records.append(rec.encode())
        rows.append(ApplicationRow(p.brand or p.label, p.app_type, p.acq_index, p.rec_index, p.aid))
    for k in config.capks:
        records.append(
            CapkRecord(
                k.acq_index, k.rec_index, k.rid, k.index, k.exponent, k.modulus, k.checksum
            ).encode()
        )
    first = config.aids[0] if config.aids else None
    return TerminalTables(
        version=config.table_version[:10].ljust(10, "0"),
        records=tuple(records),
        applications=tuple(rows),
        floor_limit=first.floor_limit if first else 0,
        target_percent=first.random_target_percent if first else 0,
        threshold=first.random_threshold if first else 0,
        max_target_percent=first.random_max_percent if first else 0,
    )


class AcquirerLink(Protocol):
    """The acquirer host as the bridge sees it."""

    def terminal_tables(self) -> TerminalTables: ...

    def card_hash_key(self) -> tuple[str, rsa.RSAPublicKey]: ...
