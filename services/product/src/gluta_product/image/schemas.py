"""Image answers."""

from gluta_product.schemas import CamelModel


class ImageRead(CamelModel):
    """An uploaded image: `{imageId, url}`."""

    image_id: int
    url: str
