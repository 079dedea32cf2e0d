"""The admin console in Debian's Chromium, against the whole system started as a user starts it (`gluta up`).

The journey: a member's credentials are refused; the admin logs in, creates a product with two images (the
second as thumbnail, then reordered), finds it in the storefront's search, answers a member's inquiry (shown as
text, never run), creates a coupon, and sees the dashboard's numbers grow after a member's order is CONFIRMED.
Then a storefront session is shown not to open any admin page. Screenshots of every page are saved under
`$GLUTA_ARTIFACTS_DIR/screenshots/admin/` (default `artifacts/` at the repository root), at 1280 px and 768 px.

To run against a system that is already running, set `GLUTA_E2E_ADMIN_URL`, `GLUTA_E2E_GATEWAY_URL`,
`GLUTA_E2E_STOREFRONT_URL` and `GLUTA_E2E_DATA_DIR` (its data dir, for `demo-accounts.json`).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]  # the first test also starts its stack

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PAGES = ["/", "/products", "/products/new", "/types", "/banners", "/inquiries", "/coupons", "/orders",
               "/members", "/operations"]
WAIT_MS = 30_000


def shots_dir() -> Path:
    base = Path(os.environ.get("GLUTA_ARTIFACTS_DIR") or ROOT / "artifacts")
    folder = base / "screenshots" / "admin"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def accounts(system: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The demo admin and member that `gluta up` created (demo data on)."""
    if not system["data_dir"]:
        pytest.skip("the system's data folder is unknown (set GLUTA_E2E_DATA_DIR): its demo accounts cannot be read")
    path = Path(system["data_dir"]) / "demo-accounts.json"
    listed = json.loads(path.read_text(encoding="utf-8"))
    by_role = {a["role"]: a for a in listed}
    if "admin" not in by_role or "member" not in by_role:
        pytest.fail(f"{path} lists no demo admin and member: {listed}")
    return by_role



class Member:
    """A member using the public API through the gateway."""

    def __init__(self, gateway: str, login_id: str, password: str) -> None:
        self.http = httpx.Client(base_url=gateway, timeout=15, trust_env=False)
        tokens = self.http.post("/api/user-service/login", json={"loginId": login_id, "password": password})
        assert tokens.status_code == 200, tokens.text
        self.http.headers["Authorization"] = f"Bearer {tokens.json()['accessToken']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def order_and_wait(self, product_id: int, quantity: int) -> dict[str, Any]:
        """Charge pay money, order, and wait until the order is CONFIRMED."""
        self.call("POST", "/api/order-service/wallet/charge", json={"amount": 200_000})
        order = self.call("POST", "/api/order-service/orders", json={
            "items": [{"productId": product_id, "quantity": quantity}],
            "receiver": {"name": "김테스트", "phoneNumber": "010-1234-5678", "postNumber": "04524",
                         "address": "서울 중구 세종대로 110", "addressDetail": "1층"}})
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            order = self.call("GET", f"/api/order-service/orders/{order['orderId']}")
            if order["status"] != "PENDING":
                break
            time.sleep(0.3)
        assert order["status"] == "CONFIRMED", order
        return order


def make_png(path: Path, color: tuple[int, int, int], label: str) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 480), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 440, 440), outline=(255, 255, 255), width=12)
    draw.text((200, 230), label, fill=(255, 255, 255))
    image.save(path, "PNG")
    return path


def number(text: str) -> int:
    digits = re.sub(r"[^\d]", "", text)
    return int(digits or 0)


def shot(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots_dir() / f"{name}.png"), full_page=True)


def test_admin_console_journey(system: dict[str, Any], accounts: dict[str, dict[str, str]], browser: Any,
                               tmp_path: Path) -> None:
    admin_url, gateway, storefront = system["admin"], system["gateway"], system["storefront"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: d.accept())

    # --- a member's credentials are refused, in plain words -----------------------------------------------
    page.goto(f"{admin_url}/")
    assert page.url.startswith(f"{admin_url}/login")
    shot(page, "01_login")
    page.fill("#loginId", accounts["member"]["loginId"])
    page.fill("#password", accounts["member"]["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")
    assert "관리자 계정이 아닙니다" in page.inner_text("#login-error")
    shot(page, "02_login_member_refused")
    page.goto(f"{admin_url}/products")
    assert "/login" in page.url

    # --- the admin logs in; the dashboard shows the API's numbers -----------------------------------------------
    page.fill("#loginId", accounts["admin"]["loginId"])
    page.fill("#password", accounts["admin"]["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{admin_url}/products")
    page.goto(f"{admin_url}/")
    orders_before = number(page.inner_text("#stat-orders"))
    revenue_before = number(page.inner_text("#stat-revenue"))
    units_before = number(page.inner_text("#stat-units"))
    assert page.locator("#sales-chart svg, #sales-chart .chart-empty-box").count() == 1
    shot(page, "03_dashboard")

    # --- a product with two images, the second as thumbnail --------------------------------------------------------
    name = f"E2E 린넨 셔츠 {uuid.uuid4().hex[:6]}"
    red = make_png(tmp_path / "red.png", (200, 60, 60), "ONE")
    blue = make_png(tmp_path / "blue.png", (60, 90, 200), "TWO")
    page.goto(f"{admin_url}/products/new")
    page.fill("#name", name)
    page.select_option("#productTypeId", index=1)
    page.fill("#styles", "#이투이 #여름")
    page.fill("#unitPrice", "15000")
    page.fill("#quantity", "50")
    page.fill("#description", "시원한 린넨 셔츠")
    page.fill("#content", "<p>상세 설명</p>")
    page.locator("#content").select_text()
    page.click("button[data-wrap=b]")  # the toolbar wraps the selection
    assert page.input_value("#content") == "<b><p>상세 설명</p></b>"
    page.set_input_files("#images", [str(red), str(blue)])
    page.check("input[name=thumbnail][value='new:1']")
    shot(page, "04_product_new")
    page.click("#save-product")
    page.wait_for_url(re.compile(r".*/products/\d+/edit$"))
    product_id = int(re.search(r"/products/(\d+)/edit", page.url).group(1))  # type: ignore[union-attr]
    assert "등록했습니다" in page.inner_text(".flashes")
    cards = page.locator("#current-images .image-card")
    assert cards.count() == 2
    first_id, second_id = (int(cards.nth(i).get_attribute("data-image-id")) for i in range(2))
    assert page.locator(f"input[name=thumbnail][value='{second_id}']").is_checked()
    detail = httpx.get(f"{gateway}/api/product-service/products/{product_id}", timeout=10).json()
    assert [i["imageId"] for i in detail["images"]] == [first_id, second_id]
    assert detail["thumbnailUrl"].endswith(f"/{second_id}")
    assert "<b>" in detail["content"] and sorted(detail["productStyles"]) == sorted(["이투이", "여름"])
    # reorder with the arrows and save
    cards.nth(0).locator("[data-move=down]").click()
    shot(page, "05_product_edit")
    page.click("#save-product")
    page.wait_for_selector(".flash-success")
    detail = httpx.get(f"{gateway}/api/product-service/products/{product_id}", timeout=10).json()
    assert [i["imageId"] for i in detail["images"]] == [second_id, first_id]
    # the list finds it, its thumbnail is served through the admin
    page.goto(f"{admin_url}/products?keyword={name.split()[-1]}")
    row = page.locator(f"tr[data-product-id='{product_id}']")
    assert name in row.inner_text()
    assert row.locator("img.thumb").evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "06_products")

    # --- the customer sees it in the storefront's search --------------------------------------------------------
    shop = browser.new_context(viewport={"width": 1280, "height": 900})
    shop_page = shop.new_page()
    response = shop_page.goto(f"{storefront}/search?keyword={name.split()[-1]}")
    if response is not None and response.status == 200:
        assert name in shop_page.content()
    else:  # storefront not serving search: the public API must still find it
        found = httpx.get(f"{gateway}/api/product-service/products/search", params={"keyword": name.split()[-1]},
                          timeout=10).json()
        assert any(p["productId"] == product_id for p in found["items"])

    # --- a member asks; the admin answers (the question is shown as text) ----------------------------------------
    member = Member(gateway, accounts["member"]["loginId"], accounts["member"]["password"])
    question = "<script>window.__pwned = 1</script> 사이즈가 어떻게 되나요?"
    inquiry = member.call("POST", f"/api/product-service/products/{product_id}/inquiries", json={"content": question})
    page.goto(f"{admin_url}/inquiries")
    article = page.locator(f"article[data-inquiry-id='{inquiry['inquiryId']}']")
    assert question in article.locator(".inquiry-question").inner_text()
    assert page.evaluate("window.__pwned === undefined")
    shot(page, "07_inquiries")
    article.locator("textarea[name=content]").fill("M 사이즈 기준 가슴단면 55cm입니다.")
    article.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-success")
    assert page.locator(f"article[data-inquiry-id='{inquiry['inquiryId']}']").count() == 0
    listed = member.call("GET", f"/api/product-service/products/{product_id}/inquiries")
    answer = next(i for i in listed["items"] if i["inquiryId"] == inquiry["inquiryId"])["answer"]
    assert answer["content"] == "M 사이즈 기준 가슴단면 55cm입니다."
    page.goto(f"{admin_url}/inquiries?tab=answered")
    shot(page, "08_inquiries_answered")

    # --- a first-come percent coupon with a cap ----------------------------------------------------------------
    coupon_name = f"E2E 선착순 {uuid.uuid4().hex[:4]}"
    page.goto(f"{admin_url}/coupons")
    page.fill("#c-name", coupon_name)
    page.fill("#c-description", "브라우저 테스트 쿠폰")
    page.select_option("#c-type", "PERCENT")
    page.fill("#c-value", "10")
    page.fill("#c-max", "3000")
    page.fill("#c-quantity", "5")
    page.click("#create-coupon")
    page.wait_for_selector(".flash-success")
    row = page.locator("#coupon-table tr", has_text=coupon_name)
    assert "0 / 5" in row.inner_text() and "10%" in row.inner_text()
    shot(page, "09_coupons")
    claimable = httpx.get(f"{gateway}/api/order-service/coupons", timeout=10).json()
    assert any(c["name"] == coupon_name and c["remaining"] == 5 for c in claimable)

    # --- a member's order moves the dashboard ------------------------------------------------------------------
    order = member.order_and_wait(product_id, 2)
    deadline = time.monotonic() + 15
    while True:
        page.goto(f"{admin_url}/")
        if number(page.inner_text("#stat-orders")) > orders_before or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert number(page.inner_text("#stat-orders")) == orders_before + 1
    assert number(page.inner_text("#stat-units")) == units_before + 2
    assert number(page.inner_text("#stat-revenue")) == revenue_before + order["payAmount"]
    assert name in page.inner_text("#best-products")
    assert accounts["member"]["loginId"] in page.inner_text("#vip")
    shot(page, "10_dashboard_after_order")
    page.goto(f"{admin_url}/orders?status=CONFIRMED")
    assert page.locator(f"tr[data-order-id='{order['orderId']}']").count() == 1
    shot(page, "11_orders")

    # --- types: a new one is created and deleted; the product's own type is refused with the reason -----------
    type_id = detail["productType"]["productTypeId"]
    type_name = f"E2E분류{uuid.uuid4().hex[:4]}"
    page.goto(f"{admin_url}/types")
    page.fill("#type", type_name)
    page.click("#type-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    page.locator("#type-table tr", has_text=type_name).locator("button", has_text="삭제").click()
    page.wait_for_selector(".flash-success")
    assert type_name not in page.inner_text("#type-table")
    page.locator(f"#type-table tr[data-type-id='{type_id}'] button", has_text="삭제").click()
    page.wait_for_selector(".flash-error")
    assert "삭제할 수 없습니다" in page.inner_text(".flash-error")
    assert page.locator(f"#type-table tr[data-type-id='{type_id}']").count() == 1
    shot(page, "12_types")

    # --- the other pages, the operations page, English, a tablet -------------------------------------------------
    for path, shot_name in (("/banners", "13_banners"), ("/members", "14_members")):
        page.goto(f"{admin_url}{path}")
        shot(page, shot_name)
    page.goto(f"{admin_url}/operations")
    services = set(page.locator("#instance-table tr[data-service]").evaluate_all(
        "rows => rows.map(r => r.dataset.service)"))
    assert {"user", "product", "order", "gateway", "admin"} <= services
    assert page.inner_text("#config-version").strip() not in ("", "—")
    assert "중단" not in page.inner_text("#instance-table")
    shot(page, "15_operations")
    page.goto(f"{admin_url}/lang/en?next=/")
    assert "Revenue and units per day" in page.content()
    shot(page, "16_dashboard_en")
    page.goto(f"{admin_url}/lang/ko?next=/")

    tablet = browser.new_context(viewport={"width": 768, "height": 1024}, storage_state=context.storage_state())
    tablet_page = tablet.new_page()
    for path, shot_name in (("/", "17_tablet_dashboard"), ("/products", "18_tablet_products"),
                            (f"/products/{product_id}/edit", "19_tablet_product_edit")):
        tablet_page.goto(f"{admin_url}{path}")
        width = tablet_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 768, f"{path} is {width}px wide on a tablet"
        shot(tablet_page, shot_name)
    tablet.close()

    # --- deleting asks first --------------------------------------------------------------------------------
    page.goto(f"{admin_url}/products/{product_id}/delete")
    shot(page, "20_product_delete_confirm")
    page.click("#confirm-delete")
    page.wait_for_url(f"{admin_url}/products")
    assert httpx.get(f"{gateway}/api/product-service/products/{product_id}", timeout=10).status_code == 404

    assert not [p for p in problems if "Content Security Policy" in p or "Uncaught" in p], problems
    shop.close()
    context.close()


def test_a_storefront_session_opens_no_admin_page(system: dict[str, Any], accounts: dict[str, dict[str, str]],
                                                  browser: Any) -> None:
    admin_url, storefront = system["admin"], system["storefront"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    # log in at the storefront as the member: its session cookie is now in this browser (same host)
    page.goto(f"{storefront}/login")
    page.fill("input[name=loginId]", accounts["member"]["loginId"])
    page.fill("input[name=password]", accounts["member"]["password"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    cookies = {c["name"]: c["value"] for c in context.cookies(storefront)}
    storefront_session = cookies.get("gluta_session")
    assert storefront_session, f"the storefront set no session cookie: {sorted(cookies)}"
    # the same cookie, and its value under the admin's cookie name, open nothing here
    context.add_cookies([{"name": "gluta_admin_session", "value": storefront_session, "url": admin_url}])
    for path in ADMIN_PAGES:
        page.goto(f"{admin_url}{path}")
        assert "/login" in page.url, f"{path} opened with a storefront session"
    page.goto(f"{admin_url}/operations")
    shot(page, "21_storefront_session_refused")
    context.close()
