"""Pure pieces: the won filter, dates, error mapping, redirects, coupon discounts."""

from gluta_kit.web import ApiError
from gluta_kit.web.i18n import format_datetime, won
from gluta_storefront.cart.router import estimate_discount, priced_lines
from gluta_storefront.messages import form_errors
from gluta_storefront.web import safe_next


def test_won_has_thousands_separators_and_the_won_sign() -> None:
    assert won(12900) == "12,900원"
    assert won(0) == "0원"
    assert won(1_234_567) == "1,234,567원"
    assert won("39000") == "39,000원"
    assert won(None) == "" and won("x") == ""


def test_times_are_shown_in_korean_time() -> None:
    assert format_datetime("2026-11-24T00:30:00Z") == "2026-11-24 09:30"
    assert format_datetime("not a time") == ""


def test_field_errors_of_a_problem_land_on_their_fields() -> None:
    error = ApiError(422, "VALIDATION_ERROR", "bad", {"receiver.phoneNumber": "bad", "email": "bad"})
    mapped = form_errors(error)
    assert set(mapped.fields) == {"receiver.phoneNumber", "email"}
    assert mapped.message  # and one message for the form
    taken = form_errors(ApiError(409, "LOGIN_ID_TAKEN"))
    assert taken.get("loginId") and not taken.message
    money = form_errors(ApiError(402, "INSUFFICIENT_PAY_MONEY"), {"INSUFFICIENT_PAY_MONEY": "payMoney"})
    assert money.get("payMoney")


def test_problem_json_becomes_api_error_with_fields() -> None:
    import httpx

    response = httpx.Response(422, json={"code": "VALIDATION_ERROR", "detail": "no", "errors": [
        {"loc": ["body", "loginId"], "field": "loginId", "msg": "too short"},
        {"loc": ["body", "receiver", "name"], "msg": "missing"}]})
    error = ApiError.from_response(response)
    assert error.status == 422 and error.code == "VALIDATION_ERROR"
    assert error.fields == {"loginId": "too short", "receiver.name": "missing"}
    plain = ApiError.from_response(httpx.Response(502, text="<html>bad gateway</html>"))
    assert plain.code == "BAD_GATEWAY" and plain.fields == {}


def test_next_urls_stay_on_this_site() -> None:
    assert safe_next("/cart?x=1") == "/cart?x=1"
    for hostile in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""):
        assert safe_next(hostile) == "/"


def test_coupon_discounts_never_exceed_the_line() -> None:
    assert estimate_discount({"discountType": "FIXED", "discountValue": 3000}, 10_000) == 3000
    assert estimate_discount({"discountType": "FIXED", "discountValue": 30_000}, 10_000) == 10_000
    percent = {"discountType": "PERCENT", "discountValue": 10, "maxDiscount": 2000}
    assert estimate_discount(percent, 10_000) == 1000
    assert estimate_discount(percent, 100_000) == 2000
    assert estimate_discount(None, 10_000) == 0


def test_one_coupon_applies_to_one_line_only() -> None:
    coupon = {"memberCouponId": 7, "discountType": "FIXED", "discountValue": 1000, "used": False, "productId": None}
    items = [{"productId": 1, "unitPrice": 5000, "quantity": 1, "lineTotal": 5000},
             {"productId": 2, "unitPrice": 8000, "quantity": 2, "lineTotal": 16000}]
    lines, totals = priced_lines(items, [coupon], {"1": 7, "2": 7})
    assert [line["discount"] for line in lines] == [1000, 0]
    assert totals == {"subtotal": 21_000, "discount": 1000, "pay": 20_000}
