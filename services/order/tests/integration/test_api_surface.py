"""Every order-service endpoint of the public contract (API.md) is served, with the method it names."""

CONTRACT = {
    ("get", "/cart"), ("post", "/cart/items"), ("patch", "/cart/items/{cart_item_id}"),
    ("delete", "/cart/items/{cart_item_id}"), ("get", "/wallet"), ("get", "/wallet/transactions"),
    ("post", "/wallet/charge"), ("post", "/orders"), ("get", "/orders/{order_id}"), ("get", "/orders"),
    ("post", "/orders/{order_id}/cancel"), ("get", "/coupons"), ("post", "/coupons/{coupon_id}/issue"),
    ("get", "/members/me/coupons"), ("post", "/coupons"), ("delete", "/coupons/{coupon_id}"),
    ("get", "/admin/coupons"), ("get", "/admin/orders"), ("get", "/admin/dashboard/sales"),
    ("get", "/admin/dashboard/vip"), ("get", "/admin/dashboard/best-products"),
}


async def test_every_contract_endpoint_is_served(env) -> None:
    document = (await env.client.get("/openapi.json")).json()
    served = {(method, path) for path, item in document["paths"].items() for method in item}
    assert CONTRACT <= served, sorted(CONTRACT - served)
    assert (await env.client.get("/health")).status_code == 200
    assert (await env.client.get("/ready")).status_code == 200
