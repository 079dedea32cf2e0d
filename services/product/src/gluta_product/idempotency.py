"""Run a command once per `Idempotency-Key`: the first answer is stored with the effect and replayed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from gluta_kit.uow import UnitOfWork

M = TypeVar("M", bound=BaseModel)


async def run_once(make_uow: Callable[[], UnitOfWork], *, scope: str, caller: int | str, key: str | None,
                   model: type[M], action: Callable[[UnitOfWork], Awaitable[M]]) -> M:
    """Run `action` in one unit of work and commit it; with a key, a retry returns the first answer."""
    for attempt in range(2):
        try:
            async with make_uow() as uow:
                if key:
                    prior = await uow.recall(scope, caller, key)
                    if prior is not None:
                        return model.model_validate(prior)
                result = await action(uow)
                if key:
                    uow.remember(scope, caller, key, result.model_dump(mode="json", by_alias=True))
                await uow.commit()
                return result
        except IntegrityError:
            # A concurrent request with the same key committed first: answer with its result.
            if not key or attempt:
                raise
    raise AssertionError("unreachable")
