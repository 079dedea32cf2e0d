"""Read the product form (fields, kept images in their order, new files, the thumbnail) and save it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from gluta_admin.web import _, form_int, form_text
from gluta_kit.web import ApiError, GatewayClient

IMAGES = "/api/product-service/images"
PRODUCTS = "/api/product-service/products"
MAX_PRICE = 100_000_000
MAX_STOCK = 1_000_000_000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_STYLES = 20
MAX_IMAGES = 20
STYLE_SPLIT = re.compile(r"[\s,]+")


@dataclass
class ProductForm:
    """The product form as typed, plus the images it keeps, ready to render again or to send."""

    name: str = ""
    description: str = ""
    content: str = ""
    product_type_id: int | None = None
    styles: list[str] = field(default_factory=list)
    unit_price: int | None = None
    quantity: int | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    thumbnail_image_id: int | None = None
    thumbnail_choice: str = ""
    new_files: list[UploadFile] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_product(cls, product: dict[str, Any]) -> ProductForm:
        """Fill the form from a `ProductDetail`."""
        images = [dict(i) for i in product.get("images") or []]
        thumb = _thumbnail_id(product, images)
        return cls(
            name=str(product.get("name") or ""), description=str(product.get("description") or ""),
            content=str(product.get("content") or ""),
            product_type_id=(product.get("productType") or {}).get("productTypeId"),
            styles=list(product.get("productStyles") or []), unit_price=product.get("unitPrice"),
            quantity=product.get("quantity"), images=images, thumbnail_image_id=thumb,
        )

    @property
    def styles_text(self) -> str:
        return " ".join(f"#{s}" for s in self.styles)

    def value(self, name: str, current: Any) -> Any:
        """Return what the admin typed when the form comes back with errors, else the current value."""
        return self.raw.get(name, "" if current is None else current)

    def payload(self) -> dict[str, Any]:
        """Return the `ProductWrite` body."""
        return {
            "name": self.name, "description": self.description, "content": self.content,
            "productTypeId": self.product_type_id, "productStyles": self.styles, "unitPrice": self.unit_price,
            "quantity": self.quantity, "imageIds": [int(i["imageId"]) for i in self.images],
            "thumbnailImageId": self.thumbnail_image_id,
        }


def _thumbnail_id(product: dict[str, Any], images: list[dict[str, Any]]) -> int | None:
    """Find which image is the thumbnail: the API gives its URL, which ends in its id."""
    url = str(product.get("thumbnailUrl") or "")
    for image in images:
        if url and str(image.get("url") or "") == url:
            return int(image["imageId"])
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if tail.isdigit():
        return int(tail)
    return int(images[0]["imageId"]) if images else None


def parse_styles(text: str) -> list[str]:
    """Split `#summer, #linen cotton` into distinct hashtags without `#`."""
    styles: list[str] = []
    for part in STYLE_SPLIT.split(text):
        tag = part.strip().lstrip("#").strip()[:30]
        if tag and tag not in styles:
            styles.append(tag)
    return styles[:MAX_STYLES]


def parse_form(form: FormData) -> ProductForm:
    """Read and check the posted product form; problems land in `errors` by field name."""
    result = ProductForm(
        name=form_text(form, "name", 200), description=form_text(form, "description", 1000),
        content=form_text(form, "content", 100_000), styles=parse_styles(form_text(form, "styles", 1000)),
    )
    result.raw = {k: form_text(form, k, 100_000) for k in ("name", "description", "unitPrice", "quantity",
                                                            "styles", "productTypeId")}
    result.product_type_id = form_int(form, "productTypeId")
    result.unit_price = form_int(form, "unitPrice")
    result.quantity = form_int(form, "quantity")
    if not result.name:
        result.errors["name"] = _("Enter the product name.")
    if result.product_type_id is None:
        result.errors["productTypeId"] = _("Choose a type.")
    if result.unit_price is None or not 0 <= result.unit_price <= MAX_PRICE:
        result.errors["unitPrice"] = _("Enter a price from 0 to 100,000,000 won.")
    if result.quantity is None or not 0 <= result.quantity <= MAX_STOCK:
        result.errors["quantity"] = _("Enter a stock of 0 or more.")

    # images kept: in the order of their order fields (ties keep the page's order), minus the removed ones
    removed = {str(v) for v in form.getlist("remove")}
    kept: list[tuple[int, int, dict[str, Any]]] = []
    for index, value in enumerate(form.getlist("image_id")):
        image_id = str(value)
        if not image_id.isdigit() or image_id in removed:
            continue
        order = form_int(form, f"order_{image_id}")
        kept.append((order if order is not None else 10_000 + index, index,
                     {"imageId": int(image_id), "url": f"{IMAGES}/{image_id}"}))
    result.images = [item for _, _, item in sorted(kept, key=lambda t: (t[0], t[1]))]
    result.new_files = [f for f in form.getlist("images") if isinstance(f, UploadFile) and f.filename]
    result.thumbnail_choice = form_text(form, "thumbnail", 40)
    if len(result.images) + len(result.new_files) > MAX_IMAGES:
        result.errors["images"] = _("A product has at most 20 images.")
    return result


async def upload_new_images(client: GatewayClient, request: Request, form: ProductForm) -> None:
    """Upload the new files in order, add them after the kept images and settle the thumbnail.

    A file the product service refuses is reported in `errors["images"]`; the ones already uploaded stay
    on the form, so the admin does not lose them when the form comes back.
    """
    new_ids: list[int] = []
    for upload in form.new_files:
        data = await upload.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            form.errors["images"] = _("%(file)s is larger than 10 MB.") % {"file": upload.filename}
            continue
        try:
            image = await client.post(request, IMAGES, auth="required",
                                      files={"file": (upload.filename, data,
                                                      upload.content_type or "application/octet-stream")})
        except ApiError as exc:
            if exc.code in ("UNSUPPORTED_MEDIA", "PAYLOAD_TOO_LARGE") or exc.status in (413, 415, 422):
                form.errors["images"] = _("%(file)s is not an image the shop accepts (JPEG, PNG, WebP, GIF, "
                                          "at most 10 MB).") % {"file": upload.filename}
                continue
            raise
        image_id = int(image["imageId"])
        new_ids.append(image_id)
        form.images.append({"imageId": image_id, "url": image.get("url") or f"{IMAGES}/{image_id}"})
    form.new_files = []
    choice = form.thumbnail_choice
    ids = [int(i["imageId"]) for i in form.images]
    thumbnail: int | None = None
    if choice.startswith("new:") and choice[4:].isdigit() and int(choice[4:]) < len(new_ids):
        thumbnail = new_ids[int(choice[4:])]
    elif choice.isdigit() and int(choice) in ids:
        thumbnail = int(choice)
    form.thumbnail_image_id = thumbnail if thumbnail is not None else (ids[0] if ids else None)
    form.thumbnail_choice = str(form.thumbnail_image_id or "")


def api_field_errors(error: ApiError) -> dict[str, str]:
    """Map the product service's validation errors onto the form's field names."""
    names = {"name": "name", "description": "description", "content": "content", "productTypeId": "productTypeId",
             "productStyles": "styles", "unitPrice": "unitPrice", "quantity": "quantity", "imageIds": "images",
             "thumbnailImageId": "images"}
    errors: dict[str, str] = {}
    for field_name, message in error.fields.items():
        key = field_name.split(".")[0]
        errors[names.get(key, "form")] = message
    return errors
