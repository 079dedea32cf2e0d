"""Every page renders for a logged-in admin."""

import pytest


@pytest.mark.parametrize("path", ["/", "/products", "/products/new", "/types", "/synonyms", "/banners", "/inquiries",
                                  "/inquiries?tab=answered", "/coupons", "/orders", "/orders?status=CANCELLED",
                                  "/members", "/operations"])
async def test_page_renders(admin_client, path):
    response = await admin_client.get(path)
    assert response.status_code == 200, response.text[:3000]
    assert "<aside class=\"sidebar\">" in response.text
