"""Recovery answers the same whether or not an account exists; secrets go out by mail only, once."""

import asyncio
import hashlib
import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

import gluta_user.recovery.service as recovery_service

ANSWER_HEADERS = ("content-type", "cache-control")


def same_answer(first, second) -> bool:
    return (first.status_code, first.json(), [first.headers.get(h) for h in ANSWER_HEADERS]) == (
        second.status_code, second.json(), [second.headers.get(h) for h in ANSWER_HEADERS])


def reset_token(mail) -> str:
    text = mail.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://storefront\.test/password-reset\?token=([A-Za-z0-9_\-%]+)", text)
    assert match, text
    return match.group(1)


async def test_find_login_id_answers_the_same_for_known_and_unknown_emails(client, signup, mails) -> None:
    await signup(client, "alice")
    known = await client.post("/members/find-login-id", json={"email": "ALICE@example.com"})
    unknown = await client.post("/members/find-login-id", json={"email": "nobody@example.com"})
    assert known.status_code == 202
    assert same_answer(known, unknown)
    [mail] = mails()
    assert mail["To"] == "ALICE@example.com"
    assert "alice" in mail.get_body(preferencelist=("plain",)).get_content()


async def test_a_withdrawn_member_gets_no_login_id_mail(client, signup, login, auth, mails) -> None:
    await signup(client, "alice")
    tokens = await login(client, "alice")
    await client.request("DELETE", "/members/me", json={"password": "secret123"}, headers=auth(tokens))
    response = await client.post("/members/find-login-id", json={"email": "alice@example.com"})
    assert response.status_code == 202
    assert mails() == []


async def test_password_reset_answers_the_same_and_mails_only_a_match(start, signup, mails) -> None:
    async with start(storefront_url="http://storefront.test") as (_, client):
        await signup(client, "alice")
        answers = [
            await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"}),
            await client.post("/members/password-reset", json={"loginId": "alice", "email": "other@example.com"}),
            await client.post("/members/password-reset", json={"loginId": "nobody", "email": "alice@example.com"}),
        ]
        assert answers[0].status_code == 202
        assert same_answer(answers[0], answers[1]) and same_answer(answers[0], answers[2])
        [mail] = mails()
        assert mail["To"] == "alice@example.com"
        assert reset_token(mail)


async def test_the_same_work_is_done_for_unknown_accounts(client, signup, monkeypatch) -> None:
    await signup(client, "alice")
    calls: list[str] = []
    original = recovery_service.hash_token
    monkeypatch.setattr(recovery_service, "hash_token", lambda raw: calls.append(raw) or original(raw))
    await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"})
    await client.post("/members/password-reset", json={"loginId": "nobody", "email": "nobody@example.com"})
    assert len(calls) == 2, "a token is drawn and hashed for an unknown account too"


async def test_reset_token_works_once_and_ends_every_session(start, signup, login, auth, mails, clock, sql) -> None:
    async with start(storefront_url="http://storefront.test") as (app, client):
        await signup(client, "alice")
        before = await login(client, "alice")
        clock.advance(1)  # access tokens carry whole seconds; the reset must come after this one was issued
        await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"})
        token = reset_token(mails()[-1])
        stored = {row[0] for row in await sql(app, "SELECT token_hash FROM password_reset_tokens")}
        assert stored == {hashlib.sha256(token.encode()).hexdigest()}, "only the token's hash is stored"
        done = await client.post("/members/password-reset/confirm", json={"token": token, "newPassword": "brandnew9"})
        assert done.status_code == 204
        again = await client.post("/members/password-reset/confirm", json={"token": token, "newPassword": "another99"})
        assert again.status_code == 400 and again.json()["code"] == "INVALID_TOKEN"
        assert (await client.post("/login", json={"loginId": "alice", "password": "secret123"})).status_code == 401
        await login(client, "alice", "brandnew9")
        assert (await client.get("/members/me", headers=auth(before))).status_code == 401
        assert (await client.post("/token/refresh", json={"refreshToken": before["refreshToken"]})).status_code == 401


async def test_reset_token_expires_after_15_minutes(start, signup, mails, clock) -> None:
    async with start(storefront_url="http://storefront.test") as (_, client):
        await signup(client, "alice")
        await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"})
        token = reset_token(mails()[-1])
        clock.advance(15 * 60 + 1)
        late = await client.post("/members/password-reset/confirm", json={"token": token, "newPassword": "brandnew9"})
        assert late.status_code == 400 and late.json()["code"] == "INVALID_TOKEN"


async def test_a_newer_reset_link_replaces_the_older(start, signup, mails) -> None:
    async with start(storefront_url="http://storefront.test") as (_, client):
        await signup(client, "alice")
        for _ in range(2):
            await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"})
        first, second = (reset_token(mail) for mail in mails())
        old = await client.post("/members/password-reset/confirm", json={"token": first, "newPassword": "brandnew9"})
        assert old.status_code == 400
        new = await client.post("/members/password-reset/confirm", json={"token": second, "newPassword": "brandnew9"})
        assert new.status_code == 204


@pytest.mark.dialects("sqlite")
async def test_malformed_recovery_requests_are_422(client) -> None:
    for path, body in [("/members/find-login-id", {"email": "not an email"}), ("/members/find-login-id", {}),
                       ("/members/password-reset", {"loginId": "alice"}),
                       ("/members/password-reset/confirm", {"token": "t", "newPassword": "weak"}),
                       ("/members/password-reset/confirm", {"token": "", "newPassword": "strong123"}),
                       ("/members/find-login-id", {"email": "a\u0000@example.com"})]:
        assert (await client.post(path, json=body)).status_code == 422, (path, body)


async def test_an_unknown_reset_token_is_400(client) -> None:
    body = {"token": "made-up", "newPassword": "strong123"}
    response = await client.post("/members/password-reset/confirm", json=body)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_TOKEN"


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.dialects("sqlite")
async def test_mail_goes_out_through_a_real_smtp_server(start, signup, tmp_path) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with start(smtp_url=f"smtp://127.0.0.1:{port}", storefront_url="http://storefront.test") as (_, client):
            await signup(client, "alice")
            await client.post("/members/find-login-id", json={"email": "alice@example.com"})
            await client.post("/members/password-reset", json={"loginId": "alice", "email": "alice@example.com"})
            for _ in range(100):
                if len(inbox.messages) == 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        controller.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["alice@example.com"], ["alice@example.com"]]
    login_mail, reset_mail = (message for _, message in inbox.messages)
    assert "alice" in login_mail.get_body(preferencelist=("plain",)).get_content()
    assert reset_token(reset_mail)
    assert not (tmp_path / "mail").exists(), "with SMTP configured no file is written"
