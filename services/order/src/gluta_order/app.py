"""The order service: cart, pay money, checkout saga, first-come coupons, sales dashboard."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gluta_kit.logging import get_logger
from gluta_kit.service import Service
from gluta_order.bootstrap import build_context
from gluta_order.cart.router import router as cart_router
from gluta_order.checkout.router import router as checkout_router
from gluta_order.checkout.sweeper import Sweeper
from gluta_order.coupon.fastpath import ClaimFastPath
from gluta_order.coupon.router import router as coupon_router
from gluta_order.coupon.service import ensure_demo_coupons
from gluta_order.dashboard.router import router as dashboard_router
from gluta_order.events import register_handlers
from gluta_order.settings import OrderSettings
from gluta_order.wallet.router import router as wallet_router

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger("gluta.order")


def create_app(settings: OrderSettings) -> FastAPI:
    """Build the order app."""
    service = Service(settings, migrations=MIGRATIONS)
    ctx = build_context(settings, service)
    register_handlers(ctx)
    service.track_revocations()  # a logged-out or withdrawn member's token is refused here within seconds
    sweeper = Sweeper(db=ctx.db, uow_factory=ctx.uow, clock=lambda: ctx.clock(),
                      timeout_seconds=lambda: settings.checkout_timeout_seconds,
                      interval_seconds=settings.sweeper_interval_seconds, batch_size=settings.sweeper_batch_size)

    async def start() -> None:
        await ctx.gate.start()
        if settings.demo:
            created = await ensure_demo_coupons(uow=ctx.uow(), now=ctx.now())
            log.info("order.demo_data", couponsCreated=created)
        sweeper.start()

    async def stop() -> None:
        await sweeper.stop()
        await ctx.gate.stop()
        await ctx.payments.aclose()

    service.on_start.append(start)
    service.on_stop.append(stop)
    app = service.create_app([cart_router, wallet_router, checkout_router, coupon_router, dashboard_router],
                             title="gluta order-service")
    app.state.order = ctx
    app.add_middleware(ClaimFastPath, metrics=service.metrics)  # outermost: claims skip FastAPI's routing
    app.state.sweeper = sweeper
    log.info("order.configured", couponGate=ctx.gate.strategy, paymentProvider=ctx.payments.name)
    return app
