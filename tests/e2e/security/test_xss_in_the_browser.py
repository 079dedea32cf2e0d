"""Cross-site scripting: markup and script in what members and admins write, shown on the storefront and admin
pages in Debian's Chromium. No dialog opens, no script of theirs runs, no element of theirs is in the page.

Members write their name and inquiries, admins product names, descriptions, content (HTML, sanitised on the
way in: what may stay stays, scripts and handlers go) and answers. Every payload sets `window.__xss` or opens
a dialog if it runs; the pages are then searched for any element the payloads would have made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

PAYLOADS = [
    "<script>window.__xss='script';alert('script')</script>",
    "<img src=x onerror=\"window.__xss='img';alert('img')\">",
    "\"><svg onload=\"window.__xss='svg'\"><\"",
    "</textarea></title><script>window.__xss='breakout'</script>",
    "<a href=\"javascript:window.__xss='href'\" id=\"xss-link\">click</a>",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    "<details open ontoggle=\"window.__xss='details'\">",
    "{{7*7}}${7*7}<%= 7*7 %>",
]
MARK = "xss-" + uuid.uuid4().hex[:6]  # a word every payload carries, to find it on the pages
# what the payloads would leave in the DOM if markup got through
INJECTED = ("script:not([src])", "img[src='x']", "svg[onload]", "iframe[srcdoc]", "details[ontoggle]",
            "a[href^='javascript']", "[onerror]", "[onload]", "[ontoggle]")


@pytest.fixture(scope="module")
def front_ends(attacked: Any) -> Iterator[dict[str, str]]:
    """The storefront and the admin console, started on the attacked system for this module."""
    cluster = attacked.cluster
    for name in ("storefront", "admin"):
        cluster.start(name, wait=False)
    for name in ("storefront", "admin"):
        cluster.wait_ready(name)
    try:
        yield {"storefront": cluster.url("storefront"), "admin": cluster.url("admin")}
    finally:
        for name in ("admin", "storefront"):
            cluster.stop(name)


@pytest.fixture(scope="module")
def hostile(actors: Any) -> dict[str, Any]:
    """What a hostile member and a careless admin wrote: a member name, inquiries, a product, an answer."""
    attack = actors.attack
    name = f"{MARK}<img src=x onerror=window.__xss=1>"  # within the 50 characters of a name
    member = attack.signup("xss", name=name)
    product_id = attack.new_product(
        actors.type_id, name=f"{MARK} <script>window.__xss='pname'</script>",
        description=f"{MARK}<img src=x onerror=\"window.__xss='desc'\">",
        content=f"<p>{MARK} safe paragraph</p>" + "".join(PAYLOADS))
    stored = attack.ok(attack.call("GET", "product", f"/products/{product_id}"))
    inquiries = [attack.new_inquiry(member, product_id, f"{MARK} {payload}") for payload in PAYLOADS]
    attack.ok(attack.call("PUT", "product", f"/inquiries/{inquiries[0]}/answer", actors.admin,
                          json={"content": f"{MARK} <script>window.__xss='answer'</script>"}))
    return {"member": member, "product_id": product_id, "content": stored["content"]}


def test_product_content_is_sanitised_on_the_way_in(hostile: dict[str, Any]) -> None:
    content = hostile["content"].lower()
    assert f"<p>{MARK} safe paragraph</p>" in content  # what may stay, stays
    for banned in ("<script", "onerror", "onload", "ontoggle", "javascript:", "<iframe", "srcdoc", "<svg"):
        assert banned not in content, banned


def visit(browser: Any, pages: list[str], login: Any = None) -> list[str]:
    """Open each page; return what ran or was injected (empty when nothing was)."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    found = []
    try:
        if login is not None:
            login(page)
        for url in pages:
            answer = page.goto(url)
            assert answer is not None and answer.status == 200, f"{url}: {answer and answer.status}"
            page.wait_for_load_state("load")
            page.wait_for_timeout(150)  # an onerror of a broken image fires right after load
            ran = page.evaluate("() => window.__xss")
            if ran:
                found.append(f"{url}: a payload ran ({ran})")
            for selector in INJECTED:
                hits = page.evaluate(
                    "([sel, mark]) => [...document.querySelectorAll(sel)].filter(e => "
                    "e.outerHTML.includes('__xss') || e.outerHTML.includes(mark)).map(e => e.outerHTML.slice(0, 120))",
                    [selector, MARK])
                found += [f"{url}: injected {hit}" for hit in hits]
            shown = page.evaluate("() => document.body.innerText + [...document.querySelectorAll('input, textarea')]"
                                  ".map(e => e.value).join(' ')")
            if MARK not in shown:  # as text, or as the value of a form field
                found.append(f"{url}: the written text is not shown (as text) at all")
    finally:
        context.close()
    return found + [f"dialog: {message}" for message in dialogs]


def test_storefront_pages_show_hostile_text_as_text(browser: Any, front_ends: dict[str, str],
                                                    hostile: dict[str, Any]) -> None:
    base = front_ends["storefront"]
    member = hostile["member"]

    def login(page: Any) -> None:
        page.goto(f"{base}/login")
        page.fill("#f-loginId", member.login_id)
        page.fill("#f-password", member.password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{base}/")

    pages = [f"{base}/products/{hostile['product_id']}", f"{base}/search?keyword={MARK}", f"{base}/",
             f"{base}/mypage/profile"]
    found = visit(browser, pages, login)
    assert not found, "\n".join(found)


def test_admin_pages_show_hostile_text_as_text(browser: Any, front_ends: dict[str, str], hostile: dict[str, Any],
                                               attacked: Any) -> None:
    base = front_ends["admin"]

    def login(page: Any) -> None:
        page.goto(f"{base}/login")
        page.fill("#loginId", attacked.cluster.admin[0])
        page.fill("#password", attacked.cluster.admin[1])
        page.click("form button[type=submit]")
        page.wait_for_url(f"{base}/")

    pages = [f"{base}/inquiries", f"{base}/members", f"{base}/products",
             f"{base}/products/{hostile['product_id']}/edit"]
    found = visit(browser, pages, login)
    assert not found, "\n".join(found)
