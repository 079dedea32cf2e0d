"""The pages a customer uses, against the stand-in gateway: Korean by default, errors next to their fields."""

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit


class Inspector(HTMLParser):
    """Collect images, labels and form fields of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.fields: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values)
        elif tag == "label" and values.get("for"):
            self.labels.add(values["for"] or "")
        elif tag in ("input", "select", "textarea") and values.get("type") not in ("hidden", "submit"):
            self.fields.append(values)


def inspect(html: str) -> Inspector:
    parser = Inspector()
    parser.feed(html)
    return parser


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_pages_are_korean_by_default_and_english_by_the_switch(storefront) -> None:
    client = storefront.client
    home = await client.get("/")
    assert '<html lang="ko">' in home.text and "베스트" in home.text and "신상품" in home.text
    assert "39,000원" in home.text
    switched = await client.get("/lang/en?next=/search%3Fkeyword%3D%EC%85%94%EC%B8%A0")
    assert switched.status_code == 302 and switched.headers["location"] == "/search?keyword=%EC%85%94%EC%B8%A0"
    assert "HttpOnly" in switched.headers["set-cookie"]
    english = await client.get("/")
    assert '<html lang="en">' in english.text and "Best sellers" in english.text and "베스트" not in english.text
    assert "39,000원" in english.text
    assert (await client.get("/lang/xx?next=https://evil.example")).headers["location"] == "/"
    await client.get("/lang/ko")
    assert "베스트" in (await client.get("/")).text


async def test_home_has_carousel_best_new_and_styles_with_lazy_images_and_alt_text(storefront) -> None:
    page = await storefront.client.get("/")
    html = page.text
    assert "data-carousel" in html and html.count('class="slide') == 2
    assert "인기 스타일" in html and "#캐주얼" in html
    images = inspect(html).images
    assert images and all(img.get("alt") is not None for img in images)
    product_images = [img for img in images if "/api/product-service/images/" in (img.get("src") or "")]
    lazy = [img for img in product_images if img.get("loading") == "lazy"]
    assert product_images and len(lazy) >= len(product_images) - 1


async def test_search_filters_sort_and_pages(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    for n in range(25):
        shop.add_product(f"셔츠 {n:02d}", 10_000 + n * 1000)
    page = await client.get("/search", params={"keyword": "셔츠", "sort": "priceAsc", "minPrice": "10000"})
    assert page.status_code == 200
    assert "상품 26개" in page.text  # 25 + the linen shirt
    assert page.text.count('class="card"') == 20
    assert 'href="/search?keyword=%EC%85%94%EC%B8%A0&amp;minPrice=10000&amp;sort=priceAsc&amp;page=2"' in page.text
    second = await client.get("/search", params={"keyword": "셔츠", "sort": "priceAsc", "minPrice": "10000", "page": 2})
    assert second.text.count('class="card"') == 6
    call = [path for _, path, _ in shop.calls if path.endswith("/products/search")]
    assert call
    wrong = await client.get("/search", params={"minPrice": "5000", "maxPrice": "1000"})
    assert "최고 가격은 최저 가격보다 낮을 수 없습니다" in wrong.text and 'aria-invalid="true"' in wrong.text
    junk = await client.get("/search", params={"minPrice": "abc", "page": "-3", "sort": "evil", "type": "x"})
    assert junk.status_code == 200


async def test_search_box_suggests_and_an_empty_search_says_did_you_mean(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    for n in range(12):
        shop.add_product(f"니트 가디건 {n:02d}", 10_000 + n)
    home = (await client.get("/")).text
    assert 'role="combobox"' in home and 'aria-controls="header-suggestions"' in home
    assert 'id="header-suggestions" class="suggestions" role="listbox"' in home
    found = (await client.get("/search/suggest", params={"prefix": "니트가"})).json()["items"]
    assert len(found) == 10 and found[0]["text"].startswith("니트 가디건") and isinstance(found[0]["productId"], int)
    assert (await client.get("/search/suggest", params={"prefix": "  "})).json() == {"items": []}
    assert (await client.get("/search/suggest", params={"prefix": "x" * 300})).json() == {"items": []}
    page = await client.get("/search", params={"keyword": "니투"})
    assert re.search(r'<p class="did-you-mean" data-did-you-mean>혹시 이것을 찾으셨나요: '
                     r'<a href="/search\?keyword=%EB%8B%88%ED%8A%B8[^"]*">니트 가디건 \d\d</a>\?</p>', page.text)
    assert shop.searches[-1]["sort"] == "relevance"  # a keyword search asks for the best match first
    assert '<option value="relevance" selected>정확도순</option>' in page.text
    assert "did-you-mean" not in (await client.get("/search", params={"keyword": "니트"})).text
    await client.get("/search")
    assert shop.searches[-1]["sort"] == "newest"  # without a keyword there is nothing to match best
    shop.down = True
    down = await client.get("/search/suggest", params={"prefix": "니"})
    assert down.status_code == 503 and down.json() == {"items": []}


async def test_signup_checks_login_id_live_and_shows_errors_by_their_fields(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    taken = (await client.get("/signup/check-login-id", params={"loginId": "alice"})).json()
    assert taken == {"ok": False, "message": "이미 사용 중인 아이디입니다."}
    free = (await client.get("/signup/check-login-id", params={"loginId": "bob_2"})).json()
    assert free["ok"] is True
    assert (await client.get("/signup/check-login-id", params={"loginId": "A!"})).json()["ok"] is False

    form = {"loginId": "alice", "password": "secret123", "passwordConfirm": "secret123", "memberName": "밥",
            "phoneNumber": "010-2222-3333", "email": "bob@example.com"}
    page = await client.get("/signup")
    response = await client.post("/signup", data={**form, "csrf_token": csrf_of(page.text)})
    assert response.status_code == 409
    error = re.search(r'<p class="field-error" id="e-loginId" role="alert">([^<]+)</p>', response.text)
    assert error and error.group(1) == "이미 사용 중인 아이디입니다."
    assert 'value="밥"' in response.text and "secret123" not in response.text, "values kept, passwords not"

    rejected = await client.post("/signup", data={**form, "loginId": "reject_me", "csrf_token": csrf_of(page.text)})
    assert rejected.status_code == 422
    assert re.search(r'id="e-phoneNumber" role="alert">숫자와 하이픈\(-\)만 입력해 주세요.<', rejected.text)
    assert "표시된 항목을 확인해 주세요." in rejected.text

    local = await client.post("/signup", data={**form, "loginId": "x", "password": "short", "email": "nope",
                                               "csrf_token": csrf_of(page.text)})
    assert local.status_code == 422
    for field in ("loginId", "password", "email"):
        assert f'id="e-{field}"' in local.text

    created = await client.post("/signup", data={**form, "loginId": "bob_2", "csrf_token": csrf_of(page.text)})
    assert created.status_code == 303 and "bob_2" in shop.members
    welcome = await client.get("/")
    assert "밥님, Glutathione에 오신 것을 환영합니다!" in welcome.text and "마이페이지" in welcome.text


async def test_forms_have_labels_for_every_field(storefront) -> None:
    client = storefront.client
    pages = ["/signup", "/login", "/find-login-id", "/password-reset", "/password-reset?token=t", "/search"]
    for path in pages:
        found = inspect((await client.get(path)).text)
        unlabelled = [f for f in found.fields if f.get("id") not in found.labels]
        assert not unlabelled, (path, unlabelled)
    await storefront.login()
    product_id = next(iter(storefront.shop.products))
    token = csrf_of((await client.get("/")).text)
    await client.post(f"/products/{product_id}/cart", data={"quantity": "1", "csrf_token": token})
    for path in ["/cart", "/checkout", f"/products/{product_id}", "/mypage/profile", "/mypage/password",
                 "/mypage/withdraw", "/mypage/paymoney"]:
        found = inspect((await client.get(path)).text)
        unlabelled = [f for f in found.fields if f.get("id") not in found.labels]
        assert not unlabelled, (path, unlabelled)


async def test_login_failure_and_return_to_the_page_asked_for(storefront) -> None:
    client = storefront.client
    guarded = await client.get("/cart")
    assert guarded.status_code == 303 and guarded.headers["location"] == "/login?next=%2Fcart"
    page = await client.get(guarded.headers["location"])
    assert 'name="next" value="/cart"' in page.text
    wrong = await client.post("/login", data={"loginId": "alice", "password": "nope1234", "next": "/cart",
                                              "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 401 and "아이디 또는 비밀번호가 올바르지 않습니다." in wrong.text
    ok = await client.post("/login", data={"loginId": "alice", "password": "secret123", "next": "/cart",
                                           "csrf_token": csrf_of(page.text)})
    assert ok.headers["location"] == "/cart"
    hostile = await client.get("/login?next=//evil.example")
    assert hostile.headers["location"] == "/"  # logged in: straight to a local page


async def test_cart_coupon_checkout_confirm_cancel_refund(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    shirt = next(p for p in shop.products.values() if p["name"] == "린넨 셔츠")
    token = csrf_of((await client.get(f"/products/{shirt['productId']}")).text)
    added = await client.post(f"/products/{shirt['productId']}/cart", data={"quantity": "2", "csrf_token": token})
    assert added.status_code == 303
    assert "장바구니에 담았습니다." in (await client.get(added.headers["location"])).text
    too_many = await client.post(f"/products/{shirt['productId']}/cart", data={"quantity": "9", "csrf_token": token})
    assert too_many.status_code == 409
    assert re.search(r'id="e-quantity" role="alert">재고가 부족합니다.<', too_many.text)

    coupons = await client.get("/coupons")
    welcome = next(c for c in shop.coupons.values() if c["name"] == "웰컴 쿠폰")
    sold_out = next(c for c in shop.coupons.values() if c["remaining"] == 0)
    assert "5개 남음" in coupons.text and "품절" in coupons.text
    claimed = await client.post(f"/coupons/{welcome['couponId']}/claim", data={"csrf_token": token})
    assert claimed.status_code == 303
    after = await client.get("/coupons")
    assert "4개 남음" in after.text and "받기 완료" in after.text
    late = await client.post(f"/coupons/{sold_out['couponId']}/claim", data={"csrf_token": token})
    assert late.status_code == 410 and "쿠폰이 모두 소진되었습니다." in late.text

    cart = await client.get("/cart")
    assert "78,000원" in cart.text
    member_coupon = shop.member_coupons["alice"][0]["memberCouponId"]
    chosen = await client.post("/cart/coupons", data={f"coupon-{shirt['productId']}": str(member_coupon),
                                                      "csrf_token": token})
    assert chosen.status_code == 303
    cart = await client.get("/cart")
    assert 'data-total="discount">−3,000원' in cart.text and 'data-total="pay">75,000원' in cart.text

    checkout = await client.get("/checkout")
    assert "페이머니가 75,000원 부족합니다." in checkout.text
    assert 'value="서울시 강남구 테헤란로 1"' in checkout.text  # receiver prefilled from the member
    order_form = {"csrf_token": token, "orderKey": "k1", "receiver.name": "앨리스", "receiver.phoneNumber": "010-1",
                  "receiver.postNumber": "", "receiver.address": "서울", "receiver.addressDetail": ""}
    poor = await client.post("/checkout", data=order_form)
    assert poor.status_code == 402 and 'id="e-payMoney">페이머니 잔액이 부족합니다. 먼저 충전해 주세요.<' in poor.text
    bad_charge = await client.post("/checkout/charge", data={"csrf_token": token, "amount": "10", "next": "/checkout"})
    shown = await client.get(bad_charge.headers["location"])
    assert 'id="e-amount" role="alert">1,000원부터 2,000,000원까지 충전할 수 있습니다.<' in shown.text
    charged = await client.post("/checkout/charge", data={"csrf_token": token, "amount": "100000",
                                                          "chargeKey": "c1", "next": "/checkout"})
    assert "잔액: 100,000원" in (await client.get(charged.headers["location"])).text

    missing = await client.post("/checkout", data={**order_form, "receiver.address": ""})
    assert missing.status_code == 422 and 'id="e-receiver.address"' in missing.text
    placed = await client.post("/checkout", data=order_form)
    assert placed.status_code == 303
    order_url = placed.headers["location"]
    order_id = int(order_url.rsplit("/", 1)[1])
    assert shop.orders[order_id]["items"][0]["memberCouponId"] == member_coupon
    pending = await client.get(order_url)
    assert "주문 처리 중" in pending.text and f'data-order-poll="/orders/{order_id}/status"' in pending.text
    status = await client.get(f"/orders/{order_id}/status")
    assert 'data-order-status="CONFIRMED"' in status.text and "data-final" in status.text

    history = await client.get("/mypage/orders")
    assert f"주문 번호 {order_id}" in history.text and "주문 확정" in history.text
    cancelled = await client.post(f"/orders/{order_id}/cancel", data={"csrf_token": token, "next": "/mypage/orders"})
    assert cancelled.headers["location"] == "/mypage/orders"
    history = await client.get("/mypage/orders")
    assert "취소됨" in history.text and "고객 요청으로 취소" in history.text
    money = await client.get("/mypage/paymoney")
    assert 'data-type="REFUND"' in money.text and "+75,000원" in money.text
    assert 'data-balance>100,000원' in money.text


async def test_buy_now_out_of_stock_ends_cancelled_with_the_reason(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    shop.wallets["alice"] = 1_000_000
    pants = next(p for p in shop.products.values() if p["name"] == "데님 팬츠")
    token = csrf_of((await client.get(f"/products/{pants['productId']}")).text)
    buy = await client.post(f"/products/{pants['productId']}/buy", data={"quantity": "1", "csrf_token": token})
    target = buy.headers["location"]
    assert parse_qs(urlsplit(target).query) == {"productId": [str(pants["productId"])], "quantity": ["1"]}
    checkout = await client.get(f"/checkout?productId={pants['productId']}&quantity=5")
    assert "295,000원" in checkout.text
    placed = await client.post("/checkout", data={"csrf_token": token, "orderKey": "k2",
                                                  "productId": pants["productId"],
                                                  "quantity": "5", "receiver.name": "앨리스",
                                                  "receiver.phoneNumber": "010-1", "receiver.address": "서울"})
    order_id = int(placed.headers["location"].rsplit("/", 1)[1])
    await client.get(f"/orders/{order_id}/status")
    final = await client.get(f"/orders/{order_id}")
    assert 'data-order-status="CANCELLED"' in final.text and "취소 사유: 재고 부족" in final.text
    assert "주문 취소</button>" not in final.text


async def test_inquiries_write_delete_own_and_answer_shown(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    await storefront.login()
    product_id = next(iter(shop.products))
    token = csrf_of((await client.get(f"/products/{product_id}")).text)
    empty = await client.post(f"/products/{product_id}/inquiries", data={"content": "  ", "csrf_token": token})
    assert empty.status_code == 422 and 'id="e-content"' in empty.text
    await client.post(f"/products/{product_id}/inquiries",
                      data={"content": "사이즈가 어떻게 되나요?", "csrf_token": token})
    inquiry = next(iter(shop.inquiries.values()))
    inquiry["answer"] = {"content": "정사이즈입니다.", "createdAt": "2026-11-24T01:00:00Z"}
    page = await client.get(f"/products/{product_id}")
    assert "사이즈가 어떻게 되나요?" in page.text and "정사이즈입니다." in page.text and "답변 완료" in page.text
    assert f'action="/inquiries/{inquiry["inquiryId"]}/delete"' in page.text
    deleted = await client.post(f"/inquiries/{inquiry['inquiryId']}/delete",
                                data={"productId": str(product_id), "csrf_token": token})
    assert deleted.status_code == 303 and not shop.inquiries
    assert "문의를 삭제했습니다." in (await client.get(deleted.headers["location"])).text


async def test_my_page_edit_password_and_withdraw(storefront) -> None:
    client, shop = storefront.client, storefront.shop
    shop.add_member("carol", "secret123", "캐롤")
    await storefront.login()
    token = csrf_of((await client.get("/mypage/profile")).text)
    info = {"csrf_token": token, "memberName": "앨리스2", "phoneNumber": "010-9999-8888", "email": "carol@example.com"}
    clash = await client.post("/mypage/profile", data=info)
    assert clash.status_code == 409 and 'id="e-email" role="alert">이미 가입된 이메일입니다.<' in clash.text
    saved = await client.post("/mypage/profile", data={**info, "email": "alice2@example.com"})
    assert saved.status_code == 303 and shop.members["alice"]["memberName"] == "앨리스2"
    wrong = await client.post("/mypage/password", data={"csrf_token": token, "currentPassword": "nope1234",
                                                         "newPassword": "newpass123", "passwordConfirm": "newpass123"})
    assert wrong.status_code == 401 and 'id="e-currentPassword"' in wrong.text
    changed = await client.post("/mypage/password", data={"csrf_token": token, "currentPassword": "secret123",
                                                           "newPassword": "newpass123",
                                                           "passwordConfirm": "newpass123"})
    assert changed.status_code == 303 and shop.passwords["alice"] == "newpass123"
    refused = await client.post("/mypage/withdraw", data={"csrf_token": token, "password": "secret123"})
    assert refused.status_code == 401 and 'id="e-password"' in refused.text
    gone = await client.post("/mypage/withdraw", data={"csrf_token": token, "password": "newpass123"})
    assert gone.status_code == 303 and "alice" not in shop.members
    assert "탈퇴가 완료되었습니다" in (await client.get("/")).text
    assert (await client.get("/mypage")).status_code == 303


async def test_find_login_id_and_password_reset_from_the_mailed_link(storefront) -> None:
    client = storefront.client
    page = await client.get("/find-login-id")
    sent = await client.post("/find-login-id", data={"email": "who@example.com", "csrf_token": csrf_of(page.text)})
    assert "이 이메일로 가입한 계정이 있으면" in sent.text
    reset = await client.post("/password-reset", data={"loginId": "alice", "email": "a@example.com",
                                                       "csrf_token": csrf_of(page.text)})
    assert "비밀번호 재설정 링크를 메일로 보냈습니다" in reset.text
    form = await client.get("/password-reset?token=bad-token")
    assert 'name="token" value="bad-token"' in form.text
    bad = await client.post("/password-reset/confirm", data={"token": "bad-token", "newPassword": "brandnew1",
                                                             "passwordConfirm": "brandnew1",
                                                             "csrf_token": csrf_of(form.text)})
    assert bad.status_code == 400 and "유효하지 않거나 만료된 링크입니다" in bad.text
    good = await client.post("/password-reset/confirm", data={"token": "good-token", "newPassword": "brandnew1",
                                                              "passwordConfirm": "brandnew1",
                                                              "csrf_token": csrf_of(form.text)})
    assert good.status_code == 303 and good.headers["location"] == "/login"


async def test_images_come_through_the_storefront_with_cache_headers(storefront) -> None:
    client = storefront.client
    image = await client.get("/api/product-service/images/7")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["etag"] == '"img-7"' and "max-age" in image.headers["cache-control"]
    assert "set-cookie" not in image.headers
    again = await client.get("/api/product-service/images/7", headers={"If-None-Match": '"img-7"'})
    assert again.status_code == 304


async def test_guest_pages_are_cached_briefly_but_never_for_members(tmp_path, shop, gateway_url) -> None:
    from gluta_kit.testing import make_settings, running
    from gluta_storefront.app import create_app
    from gluta_storefront.settings import StorefrontSettings

    settings = make_settings(StorefrontSettings, tmp_path, gateway_url=gateway_url, public_cache_seconds=30)
    async with running(create_app(settings)) as client:
        first, second = await client.get("/"), await client.get("/")
        assert first.text == second.text and "로그인" in first.text
        assert sum(1 for _, path, _ in shop.calls if path.endswith("/banners")) == 1
        page = await client.get("/login")
        await client.post("/login", data={"loginId": "alice", "password": "secret123",
                                          "csrf_token": csrf_of(page.text)})
        member_home = await client.get("/")
        assert "마이페이지" in member_home.text and "로그아웃" in member_home.text
        await client.get("/lang/en")
        client.cookies.delete("gluta_session")
        assert "Best sellers" in (await client.get("/")).text, "one cached page per language"
