"""Rate limits (per member, per guest address) and body limits (declared and streamed)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRODUCT = "/api/product-service"
ORDER = "/api/order-service"
MIB = 1024 * 1024


async def test_guests_over_their_limit_get_429_with_retry_after(shared, gateway) -> None:
    gw = await gateway(rate_limit_guest_per_second=0.5, rate_limit_guest_burst=2)
    async with gw.client() as client:
        answers = [await client.get(f"{PRODUCT}/types") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert refused.headers["retry-after"] == "2"  # one token every two seconds


async def test_members_are_counted_by_member_not_by_address(shared, gateway) -> None:
    gw = await gateway(rate_limit_member_per_second=0.1, rate_limit_member_burst=2,
                       rate_limit_guest_per_second=0.1, rate_limit_guest_burst=2)
    keys = shared.keys
    async with gw.client() as client:
        first = [await client.get(f"{ORDER}/cart", headers=keys.bearer(1)) for _ in range(3)]
        second = [await client.get(f"{ORDER}/cart", headers=keys.bearer(2)) for _ in range(2)]
        guests = [await client.get(f"{PRODUCT}/types") for _ in range(2)]  # the address's own budget is intact
    assert [a.status_code for a in first] == [200, 200, 429]
    assert [a.status_code for a in second] == [200, 200]
    assert [a.status_code for a in guests] == [200, 200]


async def test_guests_are_counted_by_their_forwarded_address(shared, gateway) -> None:
    gw = await gateway(rate_limit_guest_per_second=0.1, rate_limit_guest_burst=1)
    async with gw.client() as client:
        one = [await client.get(f"{PRODUCT}/types", headers={"x-forwarded-for": "203.0.113.1"}) for _ in range(2)]
        other = await client.get(f"{PRODUCT}/types", headers={"x-forwarded-for": "203.0.113.2"})
    assert [a.status_code for a in one] == [200, 429]
    assert other.status_code == 200


async def test_many_members_behind_one_address_claim_at_once(shared, gateway) -> None:
    # the address's own budget is tiny here: members are never counted against it (the default member
    # limits apply; tests/unit shows the defaults admit 5,000 distinct members at once)
    gw = await gateway(rate_limit_guest_per_second=0.1, rate_limit_guest_burst=5)
    headers = [shared.keys.bearer(member_id) for member_id in range(1, 101)]
    slots = asyncio.Semaphore(32)

    async def claim(client, h):
        async with slots:
            return await client.post(f"{ORDER}/coupons/1/issue", headers=h)

    async with gw.client() as client:
        answers = await asyncio.gather(*(claim(client, h) for h in headers))
    assert {a.status_code for a in answers} == {200}


async def test_a_json_body_declared_over_1_mib_is_refused_unread(shared, gateway) -> None:
    gw = await gateway()
    seen_before = len(shared.services["order"].seen)
    body = b'{"items": "' + b"x" * MIB + b'"}'
    async with gw.client() as client:
        refused = await client.post(f"{ORDER}/orders", content=body, headers={
            **shared.keys.bearer(1), "content-type": "application/json"})
        fits = await client.post(f"{ORDER}/orders", content=b"x" * MIB, headers={
            **shared.keys.bearer(1), "content-type": "application/json"})
    assert refused.status_code == 413
    assert refused.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert fits.status_code == 200  # exactly 1 MiB is allowed
    assert len(shared.services["order"].seen) == seen_before + 1


async def test_uploads_may_be_up_to_10_mib(shared, gateway) -> None:
    gw = await gateway()
    admin = shared.keys.bearer(1, "admin")
    async with gw.client() as client:
        fits = await client.post(f"{PRODUCT}/images", files={"file": ("a.png", os.urandom(9 * MIB), "image/png")},
                                 headers=admin)
        refused = await client.post(f"{PRODUCT}/images", headers=admin,
                                    files={"file": ("a.png", os.urandom(10 * MIB + 1), "image/png")})
    assert fits.status_code == 200
    assert refused.status_code == 413
    assert refused.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_unsized_body_is_cut_off_while_streaming(shared, gateway) -> None:
    gw = await gateway(max_json_body_bytes=100_000, max_upload_body_bytes=300_000)
    admin = shared.keys.bearer(1, "admin")

    async def body(total: int):
        for _ in range(total // 10_000):
            yield b"y" * 10_000

    async with gw.client() as client:
        json_refused = await client.post(f"{PRODUCT}/products", content=body(200_000),
                                         headers={**admin, "content-type": "application/json"})
        json_fits = await client.post(f"{PRODUCT}/products", content=body(100_000),
                                      headers={**admin, "content-type": "application/json"})
        upload_refused = await client.post(f"{PRODUCT}/images", content=body(400_000),
                                           headers={**admin, "content-type": "multipart/form-data; boundary=y"})
        upload_fits = await client.post(f"{PRODUCT}/images", content=body(290_000),
                                        headers={**admin, "content-type": "multipart/form-data; boundary=y"})
    assert json_refused.status_code == 413
    assert json_refused.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert json_fits.status_code == 200
    assert json_fits.json()["bodyBytes"] == 100_000
    assert upload_refused.status_code == 413
    assert upload_fits.status_code == 200
    assert upload_fits.json()["bodyBytes"] == 290_000


def _urllib_post(url: str, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[int | str, dict, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except OSError as exc:  # a reset or a broken pipe: what clients saw before the lingering close
        return repr(exc), {}, b""


async def test_urllib_sending_a_3_mb_json_body_always_gets_the_413_answer(shared, gateway) -> None:
    # urllib sends the whole body before reading and asks for Connection: close; the gateway answers at once,
    # then reads and discards the rest before closing (a close with unread data would reset the connection)
    gw = await gateway()
    body = json.dumps({"content": "y" * (3 * MIB)}).encode()
    answers = [await asyncio.to_thread(_urllib_post, f"{gw.url}{ORDER}/orders", body, "application/json",
                                       shared.keys.bearer(1)) for _ in range(20)]
    assert [status for status, _, _ in answers] == [413] * 20, [status for status, _, _ in answers]
    for _, headers, payload in answers:
        assert headers["content-type"] == "application/problem+json"
        assert {k.lower(): v for k, v in headers.items()}["connection"] == "close"
        assert json.loads(payload)["code"] == "PAYLOAD_TOO_LARGE"


async def test_urllib_uploading_over_10_mib_gets_the_413_answer(shared, gateway) -> None:
    gw = await gateway()
    boundary = "gluta-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + os.urandom(11 * MIB) + f"\r\n--{boundary}--\r\n".encode()
    answers = [await asyncio.to_thread(_urllib_post, f"{gw.url}{PRODUCT}/images", body,
                                       f"multipart/form-data; boundary={boundary}", shared.keys.bearer(1, "admin"))
               for _ in range(5)]
    assert [status for status, _, _ in answers] == [413] * 5
