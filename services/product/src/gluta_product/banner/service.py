"""Banners: an image, a link and a position; soft-deleted with their image."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.banner.exceptions import BannerNotFound
from gluta_product.banner.models import Banner
from gluta_product.banner.schemas import BannerRead
from gluta_product.catalog.service import release_images
from gluta_product.image.service import CheckedImage, store_image
from gluta_product.image.storage import ImageStorage
from gluta_product.schemas import image_url


def _read(banner: Banner) -> BannerRead:
    return BannerRead(banner_id=banner.id, image_url=image_url(banner.image_id) or "", link_url=banner.link_url,
                      position=banner.position)


async def active_banners(session: AsyncSession) -> list[BannerRead]:
    """Return live banners by position."""
    rows = (await session.scalars(select(Banner).where(Banner.deleted_at.is_(None))
                                  .order_by(Banner.position, Banner.id))).all()
    return [_read(row) for row in rows]


async def create_banner(uow: UnitOfWork, storage: ImageStorage, image: CheckedImage, link_url: str,
                        position: int) -> BannerRead:
    """Store the banner's image and the banner (the caller's uow commits)."""
    stored = await store_image(uow.session, storage, image)
    now = utcnow()
    banner = Banner(image_id=stored.id, link_url=link_url, position=position, created_at=now, updated_at=now)
    uow.session.add(banner)
    await uow.session.flush()
    return _read(banner)


async def update_banner(uow: UnitOfWork, storage: ImageStorage, banner_id: int, *, image: CheckedImage | None,
                        link_url: str | None, position: int | None) -> BannerRead:
    """Change any of a banner's image, link and position; a replaced image is soft-deleted."""
    async with uow:
        banner = await uow.session.scalar(select(Banner).where(Banner.id == banner_id, Banner.deleted_at.is_(None))
                                          .with_for_update())
        if banner is None:
            raise BannerNotFound()
        now = utcnow()
        if image is not None:
            old = banner.image_id
            banner.image_id = (await store_image(uow.session, storage, image)).id
            await uow.session.flush()
            await release_images(uow.session, {old}, now)
        if link_url is not None:
            banner.link_url = link_url
        if position is not None:
            banner.position = position
        banner.updated_at = now
        read = _read(banner)
        await uow.commit()
    return read


async def delete_banner(uow: UnitOfWork, banner_id: int) -> None:
    """Hide a banner at once; its image file stays for the janitor."""
    async with uow:
        banner = await uow.session.scalar(select(Banner).where(Banner.id == banner_id, Banner.deleted_at.is_(None))
                                          .with_for_update())
        if banner is None:
            raise BannerNotFound()
        now = utcnow()
        banner.deleted_at = now
        banner.updated_at = now
        await uow.session.flush()
        await release_images(uow.session, {banner.image_id}, now)
        await uow.commit()
