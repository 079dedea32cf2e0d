"""What the read-through keeps of the product service's answer, and what it refuses to guess from."""

import pytest

from gluta_order.snapshot.reader import facts_of


def test_a_product_detail_gives_the_fields_the_copy_keeps() -> None:
    body = {"productId": 5, "name": "wool cardigan", "unitPrice": 12_000, "quantity": 3, "thumbnailUrl": "/images/9",
            "soldOut": False, "content": "<p>…</p>"}
    facts = facts_of(5, body)
    assert (facts.product_id, facts.name, facts.unit_price, facts.quantity, facts.thumbnail_url, facts.on_sale) == \
        (5, "wool cardigan", 12_000, 3, "/images/9", True)


@pytest.mark.parametrize("body", [
    None, [], {"name": "x", "unitPrice": 1}, {"name": "x", "unitPrice": "1", "quantity": 1},
    {"name": "x", "unitPrice": True, "quantity": 1}, {"name": 3, "unitPrice": 1, "quantity": 1},
    {"name": "x", "unitPrice": 1, "quantity": 1, "thumbnailUrl": 7},
])
def test_an_unreadable_answer_is_refused_rather_than_guessed(body) -> None:
    with pytest.raises(ValueError):
        facts_of(5, body)
