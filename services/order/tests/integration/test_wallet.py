"""Pay money: every change has a ledger row, top-ups are idempotent, and a provider's payment is verified once."""

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gluta_kit.testing import serving


async def test_charge_credits_and_writes_the_ledger(env) -> None:
    assert await env.balance(7) == 0
    assert await env.charge(7, 10_000) == {"balance": 10_000}
    assert await env.charge(7, 5_000) == {"balance": 15_000}
    page = (await env.client.get("/wallet/transactions?page=1&size=1", headers=env.member(7))).json()
    assert page["total"] == 2 and page["page"] == 1 and page["size"] == 1
    newest = page["items"][0]
    assert newest["type"] == "CHARGE" and newest["amount"] == 5_000 and newest["balanceAfter"] == 15_000
    assert newest["orderId"] is None and newest["createdAt"].endswith("Z")
    assert await env.ledger_consistent(7) == 15_000
    assert await env.balance(8) == 0  # another member's wallet is untouched


async def test_the_same_idempotency_key_charges_once(env) -> None:
    headers = {**env.member(7), "Idempotency-Key": "top-up-1"}
    responses = await asyncio.gather(*[env.client.post("/wallet/charge", json={"amount": 3_000}, headers=headers)
                                       for _ in range(5)])
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["balance"] for r in responses} == {3_000}
    assert await env.balance(7) == 3_000
    # the key belongs to the member: another member's same key is another charge
    other = await env.client.post("/wallet/charge", json={"amount": 1_000},
                                  headers={**env.member(8), "Idempotency-Key": "top-up-1"})
    assert other.json() == {"balance": 1_000}


async def test_charge_needs_a_key_and_a_sane_amount(env) -> None:
    missing = await env.client.post("/wallet/charge", json={"amount": 5_000}, headers=env.member(7))
    assert missing.status_code == 400 and missing.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    for amount in (999, 2_000_001, -5, 10**40, "lots", None):
        response = await env.client.post("/wallet/charge", json={"amount": amount},
                                         headers={**env.member(7), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 422, amount
    too_long = await env.client.post("/wallet/charge", json={"amount": 5_000},
                                     headers={**env.member(7), "Idempotency-Key": "k" * 65})
    assert too_long.status_code == 422
    assert await env.balance(7) == 0
    assert (await env.client.get("/wallet")).status_code == 401


async def test_a_payment_id_is_accepted_once_even_in_the_sandbox(env) -> None:
    await env.charge(7, 10_000, paymentId="pay-1")
    replay = await env.client.post("/wallet/charge", json={"amount": 10_000, "paymentId": "pay-1"},
                                   headers={**env.member(8), "Idempotency-Key": uuid.uuid4().hex})
    assert replay.status_code == 409 and replay.json()["code"] == "PAYMENT_ALREADY_USED"
    assert await env.balance(8) == 0


def portone_stand_in(secret: str, payments: dict[str, dict[str, Any]], seen: list[str]) -> FastAPI:
    """A local stand-in of PortOne v2's `GET /payments/{paymentId}`."""
    app = FastAPI()

    @app.get("/payments/{payment_id:path}")
    async def get_payment(payment_id: str, request: Request) -> JSONResponse:
        seen.append(payment_id)
        if request.headers.get("authorization") != f"PortOne {secret}":
            return JSONResponse({"type": "UNAUTHORIZED", "message": "bad secret"}, status_code=401)
        if payment_id not in payments:
            return JSONResponse({"type": "PAYMENT_NOT_FOUND", "message": "no such payment"}, status_code=404)
        return JSONResponse({"id": payment_id, "transactionId": uuid.uuid4().hex, "currency": "KRW",
                             **payments[payment_id]})

    return app


async def test_portone_adapter_verifies_status_and_amount_with_the_provider(order_app) -> None:
    payments = {
        "pay-ok": {"status": "PAID", "amount": {"total": 50_000, "paid": 50_000}},
        "pay-ready": {"status": "READY", "amount": {"total": 50_000, "paid": 0}},
        "pay-cancelled": {"status": "CANCELLED", "amount": {"total": 50_000, "paid": 0}},
        "pay-usd": {"status": "PAID", "amount": {"total": 50_000}, "currency": "USD"},
        "pay/odd id?": {"status": "PAID", "amount": {"total": 2_000}},
    }
    seen: list[str] = []
    async with serving(portone_stand_in("s3cret", payments, seen)) as provider_url, \
            order_app(payment_provider_url=provider_url, payment_api_secret="s3cret") as env:

        async def charge(body: dict[str, Any], key: str | None = None) -> Any:
            return await env.client.post("/wallet/charge", json=body,
                                         headers={**env.member(7), "Idempotency-Key": key or uuid.uuid4().hex})

        ok = await charge({"amount": 50_000, "paymentId": "pay-ok"}, key="k1")
        assert ok.status_code == 200 and ok.json() == {"balance": 50_000}
        retry = await charge({"amount": 50_000, "paymentId": "pay-ok"}, key="k1")
        assert retry.json() == {"balance": 50_000}
        replay = await charge({"amount": 50_000, "paymentId": "pay-ok"})
        assert replay.status_code == 409 and replay.json()["code"] == "PAYMENT_ALREADY_USED"

        for body in ({"amount": 50_000, "paymentId": "pay-ready"},
                     {"amount": 50_000, "paymentId": "pay-cancelled"},
                     {"amount": 50_000, "paymentId": "pay-usd"},
                     {"amount": 40_000, "paymentId": "pay-ok-but-other"},
                     {"amount": 1_000, "paymentId": "pay-unknown"}):
            refused = await charge(body)
            assert refused.status_code == 402, body
            assert refused.json()["code"] == "PAYMENT_NOT_VERIFIED"
        mismatch = await charge({"amount": 2_001, "paymentId": "pay/odd id?"})
        assert mismatch.status_code == 402 and mismatch.json()["code"] == "PAYMENT_NOT_VERIFIED"
        odd = await charge({"amount": 2_000, "paymentId": "pay/odd id?"})
        assert odd.status_code == 200  # the id travels URL-encoded
        assert "pay/odd id?" in seen

        no_id = await charge({"amount": 5_000})
        assert no_id.status_code == 422
        assert await env.balance(7) == 52_000
        assert await env.ledger_consistent(7) == 52_000


async def test_a_provider_that_refuses_our_secret_or_is_down_gives_503_and_credits_nothing(order_app) -> None:
    async with serving(portone_stand_in("right", {"p": {"status": "PAID", "amount": {"total": 5_000}}}, [])) \
            as provider_url, order_app(payment_provider_url=provider_url, payment_api_secret="wrong") as env:
        response = await env.client.post("/wallet/charge", json={"amount": 5_000, "paymentId": "p"},
                                         headers={**env.member(7), "Idempotency-Key": "a"})
        assert response.status_code == 503
        assert await env.balance(7) == 0


def test_a_provider_without_a_secret_does_not_start(tmp_path) -> None:
    from gluta_kit.testing import make_settings
    from gluta_order.settings import OrderSettings

    with pytest.raises(ValueError, match="payment_api_secret"):
        make_settings(OrderSettings, tmp_path, payment_provider_url="http://127.0.0.1:9")
