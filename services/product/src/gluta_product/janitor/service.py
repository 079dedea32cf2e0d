"""The janitor's work: remove rows soft-deleted longer than the retention, and their files."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_product.banner.models import Banner
from gluta_product.catalog.models import Product, ProductImage, ProductStyle
from gluta_product.catalog.search import build_search_fields
from gluta_product.catalog.service import index_tokens
from gluta_product.image.exceptions import ImageStorageUnavailable
from gluta_product.image.models import Image
from gluta_product.image.storage import ImageStorage
from gluta_product.inquiry.models import Inquiry
from gluta_product.janitor.schemas import JanitorReport
from gluta_product.like.models import ProductLike

log = get_logger("gluta.product.janitor")


async def run_janitor(uow: UnitOfWork, storage: ImageStorage, *, older_than: timedelta, now: datetime,
                      dry_run: bool = False) -> JanitorReport:
    """Remove products, banners and images soft-deleted before `now - older_than`, files first checked.

    A file is removed only when no remaining image row points at it; a missing file is not an error.
    Files go first, then the rows in one transaction: a crash or a failed commit in between leaves the rows
    soft-deleted, and the next run finds them again and finishes (their files are simply gone by then).
    A file that cannot be removed keeps its image row for the next run.
    """
    cutoff = now - older_than
    async with uow:
        session = uow.session
        products = set((await session.scalars(select(Product.id).where(Product.deleted_at < cutoff))).all())
        banners = set((await session.scalars(select(Banner.id).where(Banner.deleted_at < cutoff))).all())
        images = {row.id: row.storage_key for row in (await session.execute(
            select(Image.id, Image.storage_key).where(Image.deleted_at < cutoff))).all()}
        found = len(products) + len(banners) + len(images)
        if images:
            ids = list(images)
            still_used = set((await session.scalars(select(ProductImage.image_id).where(
                ProductImage.image_id.in_(ids), ProductImage.product_id.not_in(list(products) or [0])))).all())
            still_used |= set((await session.scalars(select(Product.thumbnail_image_id).where(
                Product.thumbnail_image_id.in_(ids), Product.id.not_in(list(products) or [0])))).all())
            still_used |= set((await session.scalars(select(Banner.image_id).where(
                Banner.image_id.in_(ids), Banner.id.not_in(list(banners) or [0])))).all())
            for image_id in still_used:
                images.pop(image_id, None)
        keys = set(images.values())
        if keys:
            shared = set((await session.scalars(select(Image.storage_key).where(
                Image.storage_key.in_(keys), Image.id.not_in(list(images) or [0])))).all())
            keys -= shared
        rows = len(products) + len(banners) + len(images)
        if dry_run:
            try:
                sizes = [await storage.size(key) for key in sorted(keys)]
            except OSError as exc:
                raise ImageStorageUnavailable("the image storage could not be asked for file sizes") from exc
            present = [size for size in sizes if size is not None]
            return JanitorReport(found=found, files_removed=len(present), rows_removed=rows,
                                 bytes_freed=sum(present), dry_run=True, cutoff=cutoff.isoformat())
        files = 0
        freed = 0
        for key in sorted(keys):
            try:
                size = await storage.delete(key)
            except OSError as exc:
                log.warning("janitor.file_not_removed", key=key, error=repr(exc))
                for image_id in [i for i, k in images.items() if k == key]:
                    images.pop(image_id)  # its row stays soft-deleted, so the next run tries again
                continue
            if size:
                files += 1
                freed += size
        rows = len(products) + len(banners) + len(images)
        if products:
            ids = list(products)
            await session.execute(delete(ProductLike).where(ProductLike.product_id.in_(ids)))
            await session.execute(delete(Inquiry).where(Inquiry.product_id.in_(ids)))
            await session.execute(delete(ProductStyle).where(ProductStyle.product_id.in_(ids)))
            await session.execute(delete(ProductImage).where(ProductImage.product_id.in_(ids)))
            if uow.db.dialect in {"mysql", "mariadb"}:  # the gram table is keyed by gram: delete gram by gram
                for product_id, name, description, content in (await session.execute(
                        select(Product.id, Product.name, Product.description, Product.content)
                        .where(Product.id.in_(ids)))).all():
                    await index_tokens(session, uow.db.dialect, product_id,
                                       build_search_fields(name, description, content), None)
            await session.execute(delete(Product).where(Product.id.in_(ids)))
        if banners:
            await session.execute(delete(Banner).where(Banner.id.in_(list(banners))))
        if images:
            ids = list(images)
            # A removed product's thumbnail may point at a removed image of another removed product.
            await session.execute(update(Product).where(Product.thumbnail_image_id.in_(ids))
                                  .values(thumbnail_image_id=None))
            await session.execute(delete(Image).where(Image.id.in_(ids)))
        await uow.commit()
    report = JanitorReport(found=found, files_removed=files, rows_removed=rows, bytes_freed=freed, dry_run=False,
                           cutoff=cutoff.isoformat())
    log.info("janitor.done", **report.model_dump())
    return report


