"""The payment-provider port: who confirms that a top-up was really paid.

Local mode uses the sandbox, which approves at once. With `payment_provider_url` set, a PortOne v2
style adapter asks the provider about the payment (`GET {url}/payments/{paymentId}` with
`Authorization: PortOne <secret>`) and accepts it only when it is `PAID` for exactly the amount asked.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx

from gluta_kit.errors import ServiceUnavailable
from gluta_kit.logging import get_logger
from gluta_order.wallet.exceptions import PaymentIdRequired, PaymentNotVerified

log = get_logger("gluta.order.payment")


class PaymentProvider(Protocol):
    """Confirm that `amount` won were paid under `payment_id`; raise PaymentNotVerified otherwise."""

    name: str
    requires_payment_id: bool

    async def verify(self, payment_id: str | None, amount: int) -> None: ...

    async def aclose(self) -> None: ...


class SandboxProvider:
    """Local mode: every charge is approved at once."""

    name = "sandbox"
    requires_payment_id = False

    async def verify(self, payment_id: str | None, amount: int) -> None:
        """Approve."""

    async def aclose(self) -> None:
        """Nothing to close."""


class PortOneProvider:
    """Verify a payment with a PortOne v2 style API before crediting it."""

    name = "portone"
    requires_payment_id = True

    def __init__(self, base_url: str, api_secret: str, *, timeout: float = 5.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = api_secret
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def verify(self, payment_id: str | None, amount: int) -> None:
        """Ask the provider about the payment; accept only PAID for exactly `amount` won."""
        if not payment_id:
            raise PaymentIdRequired("paymentId is required: pay with the provider first, then send its id")
        url = f"{self.base_url}/payments/{quote(payment_id, safe='')}"
        try:
            response = await self._client.get(url, headers={"Authorization": f"PortOne {self._secret}"})
        except httpx.HTTPError as exc:
            log.warning("payment.provider_unreachable", error=repr(exc))
            raise ServiceUnavailable("the payment provider did not answer; try again") from exc
        if response.status_code == 404:
            raise PaymentNotVerified("the payment provider does not know this payment")
        if response.status_code in (401, 403) or response.status_code >= 500:
            log.error("payment.provider_refused", status=response.status_code)
            raise ServiceUnavailable("the payment provider could not be asked; try again later")
        if response.status_code >= 400:
            raise PaymentNotVerified(f"the payment provider answered {response.status_code}")
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise ServiceUnavailable("the payment provider answered something unreadable") from exc
        status = body.get("status") if isinstance(body, dict) else None
        total = _paid_total(body)
        if status != "PAID":
            raise PaymentNotVerified(f"the payment is {status or 'unknown'}, not PAID")
        currency = body.get("currency")
        if currency not in (None, "KRW", "CURRENCY_KRW"):
            raise PaymentNotVerified(f"the payment is in {currency}, not KRW")
        if total != amount:
            raise PaymentNotVerified(f"the payment was for {total} won, not {amount}")

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()


def _paid_total(body: Any) -> int | None:
    amount = body.get("amount") if isinstance(body, dict) else None
    if isinstance(amount, dict):
        total = amount.get("total")
    else:
        total = amount
    if isinstance(total, bool) or not isinstance(total, int):
        return None
    return total
