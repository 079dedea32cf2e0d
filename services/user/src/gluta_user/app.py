"""The user service: members, admins, login, tokens, signing keys, recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gluta_kit.service import Service
from gluta_kit.tokens import TokenVerifier
from gluta_user import bootstrap
from gluta_user.admin.router import router as admin_router
from gluta_user.auth import service as auth_service
from gluta_user.auth.router import router as auth_router
from gluta_user.clock import Clock
from gluta_user.mail import Mailer
from gluta_user.member.router import router as member_router
from gluta_user.recovery.router import router as recovery_router
from gluta_user.settings import UserSettings
from gluta_user.summary.router import router as summary_router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: UserSettings, *, clock: Clock | None = None, mailer: Mailer | None = None) -> FastAPI:
    """Build the user app (tests pass their own clock or mailer)."""
    service = Service(settings, migrations=MIGRATIONS)
    assert service.db is not None
    ctx = bootstrap.build_context(settings, service.db, clock=clock, mailer=mailer, service=service)

    async def own_keys() -> dict[str, Any]:
        # an unknown key id (a key another instance just made) is looked up in the database, not over HTTP
        await ctx.keyring.load()
        return ctx.keyring.jwks()

    service.verifier = TokenVerifier(own_keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                     min_refresh_seconds=1.0)
    bootstrap.install(service, ctx)
    # the revocations this service records: served to the other services, and followed by its own instances
    service.serve_revocations(lambda since: auth_service.revocations_since(ctx, since))
    service.track_revocations(lambda since: auth_service.revocations_since(ctx, since))
    app = service.create_app([auth_router, member_router, summary_router, recovery_router, admin_router],
                             title="gluta user-service")
    app.state.user = ctx
    return app
