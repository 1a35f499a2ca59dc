"""`DELETE /v1/people/{user_id}`: erase a person everywhere (the right to erasure; admin keys).

The work is `glamcast.platform.erasure.erase`, the same call as ``glamcast erase``: the request
is recorded on `glamcast.erasure.v1`, the person is removed from the lake, the online store and
the recommender's versions, and their feed key is tombstoned. The answer is the receipt; calling
again for the same person returns the first receipt (`repeated: true`) after checking that
nothing is left (`found_again`). It takes `erasure_settle_s` and the sweep (seconds): an admin
call, not a hot path.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from glamcast.platform.erasure import MAX_ID_CHARS, erase

RETRY_AFTER_S = 30

router = APIRouter(tags=["people"])


class ErasureReceipt(BaseModel):
    """What was removed where for one person (counts per place), by their first erasure."""

    user_id: str
    status: str = Field(description="`completed`.")
    requested_at: datetime
    completed_at: datetime | None
    requested_by: str
    removed: dict[str, int] = Field(
        description="Rows, keys or vectors removed per place: `lake/<table>` (lake datasets, "
        "offline feature and embedding tables), `online_store/<view>`, `model/<registered "
        "model>` (versions whose factors held the person), `feed_topic` (the tombstone).")
    total: int = Field(description="The sum of `removed`.")
    repeated: bool = Field(description="The person was erased before: this is that receipt.")
    found_again: dict[str, int] = Field(
        description="What this call's sweep still found and removed (empty: nothing remained).")


@router.delete(
    "/v1/people/{user_id}",
    summary="Erase a person from every store, with a receipt",
    response_model=ErasureReceipt,
    responses={503: {"description": "The broker, the registry or a store is unavailable; "
                                    "nothing is lost: call again (the erasure is idempotent)."}},
)
async def erase_person(
    request: Request,
    user_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)],
) -> ErasureReceipt:
    settings = request.app.state.settings
    caller = getattr(request.state, "caller", None)
    requested_by = f"api:{getattr(caller, 'name', '') or 'admin'}"[:64]
    try:
        results = await asyncio.to_thread(erase, settings, [user_id], requested_by)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    except Exception as exc:  # the broker, MLflow or a store: unavailable, retry (idempotent)
        raise HTTPException(503, f"erasure could not complete: {type(exc).__name__}: {exc}",
                            headers={"Retry-After": str(RETRY_AFTER_S)}) from exc
    return ErasureReceipt(**results[0].as_dict())
