"""The admin pages do what an operator expects, against a stand-in gateway."""

import re

from gluta_admin.dashboard.service import today


async def form_token(client, csrf, path):
    return csrf((await client.get(path)).text)


# --- dashboard -----------------------------------------------------------------------------------------
async def test_dashboard_shows_the_apis_numbers(admin_client, fake_gateway):
    day = today().isoformat()
    fake_gateway.sales = {"totalRevenue": 123_400, "totalUnits": 7, "orderCount": 3,
                          "series": [{"date": day, "revenue": 123_400, "units": 7, "orders": 3}]}
    fake_gateway.vip = [{"rank": 1, "memberId": 7, "loginId": "shopper", "memberName": "김고객", "totalPaid": 123_400,
                         "orderCount": 3}]
    fake_gateway.best = [{"rank": 1, "productId": 5, "name": "<b>린넨</b> 셔츠", "units": 7, "revenue": 123_400}]
    fake_gateway.coupons = [{"couponId": 1, "name": "선착순", "quantity": 100, "issuedCount": 40, "usedCount": 2,
                             "remaining": 60, "disabled": False, "discountType": "FIXED", "discountValue": 1000}]
    page = (await admin_client.get("/")).text
    assert re.search(r'id="stat-revenue">123,400원<', page)
    assert re.search(r'id="stat-orders">3<', page)
    assert re.search(r'id="stat-units">7<', page)
    assert re.search(r'id="stat-average">41,133원<', page)
    assert len(re.findall(r'<rect class="chart-bar" [^>]*data-value=', page)) == 30 + 1  # 30 days + best product
    assert f'data-label="{day[5:]}" data-value="123400"' in page
    assert "shopper" in page and "&lt;b&gt;린넨&lt;/b&gt; 셔츠" in page and "<b>린넨" not in page
    assert 'data-done="40" data-total="100"' in page
    sent = [p for m, p, _ in fake_gateway.calls if "dashboard" in p]
    assert len(sent) == 3


async def test_dashboard_asks_for_the_chosen_dates_and_survives_a_failed_panel(admin_client, fake_gateway):
    fake_gateway.fail.add("dashboard/vip")
    response = await admin_client.get("/?from=2026-11-01&to=2026-11-07")
    assert response.status_code == 200
    assert "VIP 순위:" in response.text  # the failed panel is named
    assert 'value="2026-11-01"' in response.text
    assert len(re.findall(r'<rect class="chart-bar" [^>]*data-value=', response.text)) == 0  # no sales: message
    assert "이 기간에는 매출이 없습니다" in response.text


# --- products ------------------------------------------------------------------------------------------
async def test_create_a_product_with_two_images_and_the_second_as_thumbnail(admin_client, csrf, fake_gateway,
                                                                            png_bytes):
    token = await form_token(admin_client, csrf, "/products/new")
    response = await admin_client.post("/products/new", data={
        "csrf_token": token, "name": "린넨 셔츠", "productTypeId": "2", "unitPrice": "39000", "quantity": "12",
        "styles": "#여름 #린넨", "description": "시원한 셔츠", "content": "<p><b>좋은</b> 옷</p>", "thumbnail": "new:1",
    }, files=[("images", ("a.png", png_bytes, "image/png")), ("images", ("b.png", png_bytes, "image/png"))])
    assert response.status_code == 303
    product = next(iter(fake_gateway.products.values()))
    assert response.headers["location"] == f"/products/{product['productId']}/edit"
    assert product["name"] == "린넨 셔츠" and product["unitPrice"] == 39000 and product["quantity"] == 12
    assert product["productStyles"] == ["여름", "린넨"] and product["productType"]["productTypeId"] == 2
    first, second = product["imageIds"]
    assert product["thumbnailImageId"] == second
    edit = (await admin_client.get(response.headers["location"])).text
    assert "상품 “린넨 셔츠”을(를) 등록했습니다." in edit
    assert re.search(rf'name="thumbnail" value="{second}"\s+checked', edit)
    # the image is served at the gateway-relative URL the API gave
    image = await admin_client.get(f"/api/product-service/images/{first}")
    assert image.status_code == 200 and image.content == png_bytes and image.headers["content-type"] == "image/png"


async def test_edit_reorders_removes_and_adds_images(admin_client, csrf, fake_gateway, png_bytes):
    for image_id in (1, 2, 3):
        fake_gateway.images[image_id] = png_bytes
    product = fake_gateway.add_product("셔츠", imageIds=[1, 2, 3])
    pid = product["productId"]
    token = await form_token(admin_client, csrf, f"/products/{pid}/edit")
    response = await admin_client.post(f"/products/{pid}/edit", data={
        "csrf_token": token, "name": "셔츠 2", "productTypeId": "1", "unitPrice": "1000", "quantity": "0",
        "image_id": ["1", "2", "3"], "order_1": "3", "order_2": "1", "order_3": "2", "remove": "3", "thumbnail": "1",
    }, files=[("images", ("c.png", png_bytes, "image/png"))])
    assert response.status_code == 303
    new_id = max(fake_gateway.images)
    assert product["imageIds"] == [2, 1, new_id]
    assert product["thumbnailImageId"] == 1 and product["name"] == "셔츠 2" and product["soldOut"]


async def test_a_refused_form_comes_back_with_what_was_typed_and_the_uploaded_images(admin_client, csrf,
                                                                                    fake_gateway, png_bytes):
    token = await form_token(admin_client, csrf, "/products/new")
    response = await admin_client.post("/products/new", data={
        "csrf_token": token, "name": "", "productTypeId": "1", "unitPrice": "999999999999", "quantity": "3",
        "content": "<p>hi</p>",
    }, files=[("images", ("a.png", png_bytes, "image/png")), ("images", ("bad.txt", b"hello", "text/plain"))])
    assert response.status_code == 422
    assert "상품명을 입력하세요." in response.text and "0원부터 100,000,000원" in response.text
    assert "bad.txt 파일은 쓸 수 없는 이미지입니다" in response.text
    uploaded = max(fake_gateway.images)
    assert f'name="image_id" value="{uploaded}"' in response.text  # kept on the form
    assert 'value="999999999999"' in response.text and "&lt;p&gt;hi&lt;/p&gt;" in response.text
    assert fake_gateway.products == {}


async def test_product_list_search_and_paging(admin_client, fake_gateway):
    for n in range(25):
        fake_gateway.add_product(f"셔츠 {n:02d}")
    fake_gateway.add_product("바지")
    page1 = (await admin_client.get("/products?keyword=셔츠")).text
    assert page1.count("data-product-id=") == 20 and "총 25건" in page1 and "바지" not in page1
    assert 'href="?keyword=%EC%85%94%EC%B8%A0&amp;sort=newest&amp;page=2"' in page1
    page2 = (await admin_client.get("/products?keyword=셔츠&page=2")).text
    assert page2.count("data-product-id=") == 5


async def test_delete_asks_first(admin_client, csrf, fake_gateway):
    product = fake_gateway.add_product("지울 상품")
    confirm = await admin_client.get(f"/products/{product['productId']}/delete")
    assert "이 상품을 삭제할까요?" in confirm.text and not product.get("deleted")
    response = await admin_client.post(f"/products/{product['productId']}/delete",
                                       data={"csrf_token": csrf(confirm.text)})
    assert response.headers["location"] == "/products" and product["deleted"]


# --- types, banners --------------------------------------------------------------------------------------
async def test_types_create_and_delete_refused_while_in_use(admin_client, csrf, fake_gateway):
    token = await form_token(admin_client, csrf, "/types")
    await admin_client.post("/types", data={"csrf_token": token, "type": "모자"})
    assert any(t["type"] == "모자" for t in fake_gateway.types)
    fake_gateway.add_product("셔츠")
    fake_gateway.add_product("바지")
    await admin_client.post("/types/1/delete", data={"csrf_token": token})
    page = (await admin_client.get("/types")).text
    assert "“상의” 분류를 상품 2개가 쓰고 있어 삭제할 수 없습니다." in page
    assert any(t["productTypeId"] == 1 for t in fake_gateway.types)
    await admin_client.post("/types/2/delete", data={"csrf_token": token})
    assert not any(t["productTypeId"] == 2 for t in fake_gateway.types)


async def test_banners_upload_edit_replace_delete(admin_client, csrf, fake_gateway, png_bytes):
    token = await form_token(admin_client, csrf, "/banners")
    await admin_client.post("/banners", data={"csrf_token": token, "linkUrl": "/products/3", "position": "2"},
                            files={"file": ("b.png", png_bytes, "image/png")})
    banner = next(iter(fake_gateway.banners.values()))
    assert banner["linkUrl"] == "/products/3" and banner["position"] == 2
    old_image = banner["imageUrl"]
    await admin_client.post(f"/banners/{banner['bannerId']}/edit",
                            data={"csrf_token": token, "linkUrl": "https://example.com/sale", "position": "1"},
                            files={"file": ("c.png", png_bytes, "image/png")})
    assert banner["linkUrl"] == "https://example.com/sale" and banner["position"] == 1
    assert banner["imageUrl"] != old_image
    bad = await admin_client.post(f"/banners/{banner['bannerId']}/edit",
                                  data={"csrf_token": token, "linkUrl": "javascript:alert(1)"})
    assert bad.status_code == 303 and banner["linkUrl"] == "https://example.com/sale"
    assert "링크는 https://" in (await admin_client.get("/banners")).text
    await admin_client.post(f"/banners/{banner['bannerId']}/delete", data={"csrf_token": token})
    assert fake_gateway.banners == {}


# --- inquiries -----------------------------------------------------------------------------------------
async def test_inquiries_are_text_and_can_be_answered_edited_and_unanswered(admin_client, csrf, fake_gateway):
    page = (await admin_client.get("/inquiries")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 사이즈?" in page and "<script>alert(1)" not in page
    token = csrf(page)
    back = "/inquiries?tab=unanswered"
    response = await admin_client.post("/inquiries/11/answer", data={"csrf_token": token, "content": "M입니다.",
                                                                     "back": back})
    assert response.headers["location"] == back
    assert fake_gateway.inquiries[11]["answer"]["content"] == "M입니다."
    assert "미답변 문의가 없습니다" in (await admin_client.get(back)).text
    answered = (await admin_client.get("/inquiries?tab=answered")).text
    assert "M입니다." in answered and "답변 수정" in answered
    await admin_client.post("/inquiries/11/answer", data={"csrf_token": token, "content": "L입니다.", "back": back})
    assert fake_gateway.inquiries[11]["answer"]["content"] == "L입니다."
    await admin_client.post("/inquiries/11/answer/delete", data={"csrf_token": token, "back": back})
    assert fake_gateway.inquiries[11]["answer"] is None
    away = await admin_client.post("/inquiries/11/answer/delete",
                                   data={"csrf_token": token, "back": "https://evil.example"})
    assert away.headers["location"] == "/inquiries"


# --- coupons, orders, members ---------------------------------------------------------------------------------
async def test_coupons_create_and_disable(admin_client, csrf, fake_gateway):
    token = await form_token(admin_client, csrf, "/coupons")
    response = await admin_client.post("/coupons", data={
        "csrf_token": token, "name": "선착순 10%", "discountType": "PERCENT", "discountValue": "10",
        "maxDiscount": "5000", "quantity": "50", "startsAt": "2026-11-24T10:00", "endsAt": "2026-12-24T10:00"})
    assert response.status_code == 303
    coupon = fake_gateway.coupons[0]
    assert coupon["discountType"] == "PERCENT" and coupon["maxDiscount"] == 5000 and coupon["quantity"] == 50
    assert coupon["startsAt"] == "2026-11-24T10:00:00+09:00"
    page = (await admin_client.get("/coupons")).text
    assert "쿠폰 “선착순 10%”을(를) 만들었습니다." in page and "0 / 50" in page
    refused = await admin_client.post("/coupons", data={"csrf_token": token, "name": "x", "discountType": "PERCENT",
                                                        "discountValue": "300"})
    assert refused.status_code == 422 and "할인율은 1부터 100 사이입니다." in refused.text
    assert len(fake_gateway.coupons) == 1
    await admin_client.post(f"/coupons/{coupon['couponId']}/disable", data={"csrf_token": token})
    assert coupon["disabled"]
    assert "중지됨" in (await admin_client.get("/coupons")).text


async def test_orders_show_the_cancel_reason(admin_client):
    page = (await admin_client.get("/orders?status=CANCELLED")).text
    assert 'data-order-id="3"' in page and "페이머니 부족" in page
    empty = (await admin_client.get("/orders?status=CONFIRMED")).text
    assert 'data-order-id="3"' not in empty and "주문이 없습니다." in empty


async def test_members_search_and_withdrawn_flag(admin_client):
    page = (await admin_client.get("/members")).text
    row = re.search(r'data-member-id="8".*?</tr>', page, re.S).group(0)
    assert "탈퇴" in row and "withdrawn" in row
    assert "탈퇴" not in re.search(r'data-member-id="7".*?</tr>', page, re.S).group(0)
    found = (await admin_client.get("/members?keyword=shop")).text
    assert 'data-member-id="7"' in found and 'data-member-id="8"' not in found


async def test_a_service_outage_is_a_page_not_a_crash(admin_client, fake_gateway):
    fake_gateway.fail.add("admin/orders")
    response = await admin_client.get("/orders")
    assert response.status_code == 503 and "서비스가 응답하지 않습니다" in response.text


async def test_english_pages(admin_client):
    await admin_client.get("/lang/en")
    page = (await admin_client.get("/coupons")).text
    assert "New coupon" in page and "Percentage (%)" in page


# --- search synonyms -----------------------------------------------------------------------------------
async def test_synonyms_are_edited_as_lines_and_saved_at_once(admin_client, csrf, fake_gateway):
    page = await admin_client.get("/synonyms")
    assert page.status_code == 200 and "검색 동의어" in page.text
    assert "cardigan =&gt; 가디건" in page.text
    token = csrf(page.text)
    text = "cardigan => 가디건, 가디간\n# 주석\n자켓, 재킷\n\nT Shirt => 티셔츠"
    response = await admin_client.post("/synonyms", data={"csrf_token": token, "synonyms": text})
    assert response.status_code == 303 and response.headers["location"] == "/synonyms"
    assert fake_gateway.synonyms == [{"term": "cardigan", "synonyms": ["가디건", "가디간"]},
                                     {"term": "자켓", "synonyms": ["재킷"]}, {"term": "재킷", "synonyms": ["자켓"]},
                                     {"term": "tshirt", "synonyms": ["티셔츠"]}]
    shown = (await admin_client.get("/synonyms")).text
    assert "동의어 4개를 저장했습니다" in shown and "tshirt =&gt; 티셔츠" in shown


async def test_unreadable_synonym_lines_keep_the_form_and_save_nothing(admin_client, csrf, fake_gateway):
    before = list(fake_gateway.synonyms)
    token = csrf((await admin_client.get("/synonyms")).text)
    response = await admin_client.post("/synonyms", data={"csrf_token": token,
                                                           "synonyms": "cardigan => 가디건\nlonely\n=> 없음"})
    assert response.status_code == 422
    assert "2, 3번째 줄이" in response.text and "lonely" in response.text
    assert fake_gateway.synonyms == before
    refused = await admin_client.post("/synonyms", data={"csrf_token": token, "synonyms": "a" * 60 + " => b"})
    assert refused.status_code == 422 and fake_gateway.synonyms == before
