"""Reading the admin's forms: products, coupons, date ranges, redirects."""

from datetime import date

from starlette.datastructures import FormData

from gluta_admin.coupon.service import parse_coupon
from gluta_admin.dashboard.service import DateRange, fill_series, parse_range
from gluta_admin.product.service import parse_form, parse_styles
from gluta_admin.web import safe_href, safe_next


def test_styles_are_split_deduplicated_and_unhashed():
    assert parse_styles("#summer, #linen  linen #여름") == ["summer", "linen", "여름"]
    assert parse_styles("") == []


def test_product_form_orders_kept_images_by_their_numbers_and_drops_removed_ones():
    form = FormData([
        ("name", " Shirt "), ("productTypeId", "2"), ("unitPrice", "12,000"), ("quantity", "5"), ("styles", "#a"),
        ("image_id", "10"), ("order_10", "3"), ("image_id", "11"), ("order_11", "1"), ("image_id", "12"),
        ("order_12", "2"), ("remove", "12"), ("thumbnail", "11"),
    ])
    parsed = parse_form(form)
    assert parsed.errors == {}
    assert parsed.name == "Shirt" and parsed.unit_price == 12000 and parsed.styles == ["a"]
    assert [i["imageId"] for i in parsed.images] == [11, 10]


def test_product_form_reports_each_bad_field():
    parsed = parse_form(FormData([("name", ""), ("unitPrice", "-1"), ("quantity", "x")]))
    assert set(parsed.errors) == {"name", "productTypeId", "unitPrice", "quantity"}
    assert parsed.value("unitPrice", None) == "-1"  # what was typed comes back


def test_coupon_percent_with_cap_and_korean_time_window():
    body, errors = parse_coupon(FormData([
        ("name", "10%"), ("discountType", "PERCENT"), ("discountValue", "10"), ("maxDiscount", "5000"),
        ("quantity", "100"), ("startsAt", "2026-12-01T10:00"), ("endsAt", "2026-12-02T10:00"),
    ]))
    assert errors == {}
    assert body["discountType"] == "PERCENT" and body["maxDiscount"] == 5000 and body["quantity"] == 100
    assert body["startsAt"] == "2026-12-01T10:00:00+09:00"
    assert body["productId"] is None and body["minOrderAmount"] is None


def test_coupon_mistakes():
    _, errors = parse_coupon(FormData([("name", ""), ("discountType", "PERCENT"), ("discountValue", "150"),
                                       ("quantity", "0"), ("startsAt", "2026-12-02T10:00"),
                                       ("endsAt", "2026-12-01T10:00")]))
    assert set(errors) == {"name", "discountValue", "quantity", "endsAt"}


def test_date_range_defaults_swaps_and_caps():
    today = date(2026, 11, 24)
    rng, note = parse_range(None, None, today)
    assert rng == DateRange(date(2026, 10, 26), today) and rng.days == 30 and note is None
    rng, _ = parse_range("2026-11-20", "2026-11-10", today)
    assert rng == DateRange(date(2026, 11, 10), date(2026, 11, 20))
    rng, note = parse_range("2020-01-01", "2026-11-24", today)
    assert rng.days == 366 and note
    rng, note = parse_range("yesterday", None, today)
    assert rng.days == 30 and note


def test_fill_series_gives_every_day():
    rng = DateRange(date(2026, 11, 1), date(2026, 11, 3))
    rows = fill_series([{"date": "2026-11-02", "revenue": 5, "units": 1, "orders": 1}], rng)
    assert [r["date"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [r["revenue"] for r in rows] == [0, 5, 0]


def test_redirect_targets_stay_on_this_site():
    assert safe_next("/products?page=2") == "/products?page=2"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", "javascript:alert(1)", None):
        assert safe_next(bad) == "/"


def test_links_never_run_script():
    assert safe_href("javascript:alert(1)") == "#"
    assert safe_href("/products/1") == "/products/1"
    assert safe_href("https://shop.example/x") == "https://shop.example/x"
