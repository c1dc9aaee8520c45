"""The mpos-bridge target of the conformance cases.

By default the reference bridge runs inside the case's world in virtual mode, with two
virtual pinpads on in-memory serial lines, and the suite plays the POS over in-memory
message links. With ``--mode realtime`` the same reference runs on real ptys and a real
WebSocket on 127.0.0.1. With ``--target mpos=ws://HOST:PORT/mpos`` the suite plays the
POS against that server: cases that need to choose the card or read the reference's
ledger then say so (informational) instead of failing. A cardloop bridge started with
``cardloop serve mpos-bridge`` can be named with its control API,
``--target "mpos=ws://127.0.0.1:2000/mpos#control=http://127.0.0.1:PORT"``, and then the
card cases run against it as well.

``--profile`` picks the reference's profile (``documented`` or ``bifrost-0.0.19``); a
suffix ``+no-sequence-rule`` or ``+no-device-ownership`` switches a rule off, which is how
the suite's own tests show that it notices a broken server, and ``+card-decline-report``
turns on finish's report of a card that declined after the host approved.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from conformance.options import get_options
from conformance.targets import Target
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient, NoAnswer
from protocol_servers.mpos.lab import MposLab, build_lab
from protocol_servers.mpos.profiles import PROFILES, Profile, parse_profile
from simulator.world import World


class MposTarget(Target):
    """One bridge under test and the POS clients a case opens to it."""

    def __init__(
        self,
        world: World,
        url: str | None,
        profile: Profile,
        readers: int = 2,
        behaviour: Any = None,
    ) -> None:
        # ws://HOST:PORT/mpos#control=http://127.0.0.1:PORT names the control API of a
        # cardloop bridge (``cardloop serve``, ``--serve mpos``): cases that choose the
        # card or the cardholder then run against it too
        self.control: str | None = None
        if url is not None and "#" in url:
            url, _, fragment = url.partition("#")
            self.control = dict(parse_qsl(fragment)).get("control")
        super().__init__(world, Target.kind_for(world, url=url))
        self.url = url
        self.profile = profile
        self._merchant: str | None = None
        self.lab: MposLab | None = None
        self.clients: list[MposClient] = []
        self._ws: Any = None
        if self.kind == "virtual":
            self.lab = build_lab(
                world, readers=readers, profile=profile, behaviour=behaviour, silent_ports=1
            )
        elif self.kind == "served":
            self.wait(self._start_realtime(readers, behaviour))

    async def _start_realtime(self, readers: int, behaviour: Any) -> None:
        from protocol_servers.mpos.live import serve_bridge

        self.lab = build_lab(
            self.world, readers=readers, profile=self.profile, behaviour=behaviour, silent_ports=1
        )
        self._ws = await serve_bridge(self.lab.server, "127.0.0.1", 0)
        self.url = self._ws.url

    def client(self, name: str | None = None) -> MposClient:
        name = name or f"pos{len(self.clients) + 1}"
        if self.loop is None:
            assert self.lab is not None
            end = self.lab.connect(name)
        else:
            from protocol_servers.mpos.codec import frame_label
            from simulator.ports.ws import connect_ws

            assert self.url is not None
            end = self.wait(connect_ws(self.world, self.url, name=name, labeler=frame_label))
        c = MposClient(self.world, end)
        self.clients.append(c)
        return c

    # -- scenario: the card, the cardholder, the merchant step ---------------------------
    @property
    def scripted(self) -> bool:
        """True when the case can choose the card and read the merchant's answers."""
        return self.lab is not None or self.control is not None

    def _need_scenario(self) -> None:
        if not self.scripted:
            pytest.skip(
                "the card presented cannot be chosen on a foreign target "
                "(give #control=URL for a cardloop bridge)"
            )

    def _http(self, url: str, body: dict[str, Any] | None = None) -> Any:
        from simulator.ports.http import http_json_blocking

        status, answer = http_json_blocking(url, "GET" if body is None else "POST", body, 30)
        if status >= 400:
            return {"http_status": status, **(answer if isinstance(answer, dict) else {})}
        return answer

    def present(self, card_name: str, reader: int = 0) -> None:
        """The customer at ``reader`` presents this catalogue card next."""
        self._need_scenario()
        if self.lab is not None:
            self.lab.readers[reader].pinpad.cards.clear()
            self.lab.queue_card(reader, card_from_name(self.world, card_name))
        else:
            assert self.control is not None
            answer = self._http(
                self.control + "/scenario/next-card",
                {"card": card_name, "reader": reader, "clear": True},
            )
            assert answer.get("ok"), answer

    def cardholder(self, reader: int = 0, **behaviour: Any) -> None:
        self._need_scenario()
        if self.lab is not None:
            for key, value in behaviour.items():
                setattr(self.lab.readers[reader].pinpad.customer.behaviour, key, value)
        else:
            assert self.control is not None
            answer = self._http(
                self.control + "/scenario/cardholder", {"reader": reader, **behaviour}
            )
            assert answer.get("ok"), answer

    def merchant(self, card_hash: str, amount: int) -> dict[str, Any]:
        """The merchant step (POST /1/transactions) as the POS's backend does it."""
        self._need_scenario()
        if self.lab is not None:
            from protocol_servers.merchant_api import MerchantError

            try:
                return self.lab.backend.create_transaction(card_hash, amount).as_json()
            except MerchantError as exc:
                return {"http_status": exc.status, "error": str(exc)}
        if self._merchant is None:
            assert self.control is not None
            self._merchant = self._http(self.control + "/")["urls"]["merchant"]
        return self._http(
            f"{self._merchant}/1/transactions",  # type: ignore[no-any-return]
            {"amount": amount, "card_hash": card_hash},
        )

    def merchant_on_line(self, card_hash: str, amount: int) -> Generator[Any, Any, Any]:
        """The merchant step over the API's line to the acquirer, on the world clock
        (a script does ``yield from``): what a back-end fault acts on. Reference only."""
        assert self.lab is not None, "the merchant API's line is inside the reference"
        from protocol_servers.merchant_api import MerchantError

        try:
            txn = yield from self.lab.backend.transact(card_hash, amount)
        except MerchantError as exc:
            return {"http_status": exc.status, "error": str(exc)}
        return txn.as_json()

    def merchant_reversal(self, txn_id: int) -> dict[str, Any]:
        """POST /1/transactions/<id>/reversal: what the POS's backend does when finish
        says the card declined a sale the host approved (mpos-bridge.md §3.3)."""
        self._need_scenario()
        if self.lab is not None:
            from protocol_servers.merchant_api import MerchantError

            try:
                return self.lab.backend.reverse_transaction(txn_id).as_json()
            except MerchantError as exc:
                return {"http_status": exc.status, "error": str(exc)}
        if self._merchant is None:
            assert self.control is not None
            self._merchant = self._http(self.control + "/")["urls"]["merchant"]
        return self._http(  # type: ignore[no-any-return]
            f"{self._merchant}/1/transactions/{txn_id}/reversal", {}
        )

    def read_card_hash(self, card_hash: str) -> dict[str, str]:
        """What the card_hash carries: cardloop's bridges use the acquirer's test key."""
        self._need_scenario()
        from virtual_devices.acquirer import make_acquirer

        return make_acquirer().decrypt_card_hash(card_hash)

    def _contexts_used(self) -> list[str | None]:
        used: list[str | None] = []
        for c in self.clients:
            for text in c.sent:
                try:
                    body = json.loads(text)
                except ValueError:
                    continue
                ctx = body.get("context_id") if isinstance(body, dict) else None
                if isinstance(ctx, str | None) and ctx not in used:
                    used.append(ctx)
        return used

    def cleanup(self) -> None:
        """A shared target outlives the case: close every context the case touched, so
        the next case finds the devices free (contexts are global, §2.6)."""
        if self.lab is not None or not self.clients:
            return
        c = self.client("cleanup")

        def script() -> Generator[Any, Any, Any]:
            for ctx in self._contexts_used():
                try:
                    yield from c.request({"request_type": 8, "context_id": ctx}, timeout=10.0)
                except NoAnswer:
                    return

        try:
            self.run(script)
        except Exception:  # noqa: BLE001 - best effort; the case's verdict stands
            pass

    def teardown(self) -> None:
        self.cleanup()
        if self.loop is not None:
            for c in self.clients:
                c.end.close()
            if self._ws is not None:
                self.wait(self._ws.close())
        if self.lab is not None:
            self.lab.close()


def profile_from(request: pytest.FixtureRequest) -> Profile:
    spec = get_options(request.config).profile or "documented"
    if spec.split("+")[0] not in PROFILES:
        spec = "documented"  # a profile meant for another protocol's server
    return parse_profile(spec)


@pytest.fixture
def mpos_profile(request: pytest.FixtureRequest) -> Profile:
    return profile_from(request)


@pytest.fixture
def mpos_target(
    request: pytest.FixtureRequest, world: World, mpos_profile: Profile
) -> Iterator[MposTarget]:
    url = get_options(request.config).target("mpos")
    target = MposTarget(world, url, mpos_profile)
    yield target
    target.close()
