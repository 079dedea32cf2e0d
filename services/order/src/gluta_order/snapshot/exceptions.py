"""Errors about products the order service knows from its snapshot."""

from collections.abc import Iterable

from gluta_kit.errors import AppError, ServiceUnavailable


class ProductNotFound(AppError):
    status, code, title = 404, "PRODUCT_NOT_FOUND", "No such product"


class ProductUnknown(ProductNotFound):
    """The local copy does not know these products (yet): ask the product service before answering 404."""

    def __init__(self, product_ids: Iterable[int]) -> None:
        self.product_ids = sorted(set(product_ids))
        super().__init__(f"product {self.product_ids[0]} is not for sale" if self.product_ids else None)


class OutOfStock(AppError):
    status, code, title = 409, "OUT_OF_STOCK", "Not enough stock"


class CatalogUnavailable(ServiceUnavailable):
    """The product service could not say whether a product exists: try again shortly (never a 404)."""

    title = "The product catalogue cannot be reached right now"

    def __init__(self) -> None:
        super().__init__("the product catalogue cannot be reached right now; please try again shortly")
