"""Webhooks: make (the answer shows the signing secret, this once), list, read (with the newest
deliveries), change, pause, resume, delete. Scope admin: a webhook sends the tenant's task
events out of the runtime. Another tenant's webhook answers 404; a taken name 409.

The URL goes through the SSRF guard (outlast.netguard) at create and at every change: a host
that resolves to a private, loopback, link-local or metadata address is a 422 on `body.url`,
unless the webhook has `allow_private`, which only an operator (an admin key of tenant
`default`) may set (403 on `body.allow_private` for anyone else); metadata addresses are
refused even then. Deliveries are made by the reaper and sent by workers (ADR 0020)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.access import OPERATOR_TENANT, Principal
from api.deps import Admin, PoolDep, SettingsDep
from api.problems import ProblemError, field_error, invalid
from api.schemas import (
    WEBHOOK_NAME_PATTERN,
    Page,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
)
from db import webhook
from db.connect import Row
from db.errors import UrlRefused
from outlast import netguard, webhooks
from outlast.netguard import GuardConfig
from outlast.settings import Settings

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookName = Annotated[str, Path(pattern=WEBHOOK_NAME_PATTERN, description="Its name.")]
RECENT_DELIVERIES = 20


def _public(row: Row, deliveries: list[Row] | None = None) -> WebhookPublic:
    fields: dict[str, Any] = {**row, "paused": row["paused_at"] is not None}
    if deliveries is not None:
        fields["deliveries"] = [WebhookDeliveryPublic(**d) for d in deliveries]
    return WebhookPublic.model_validate(fields)


def _operator_only(caller: Principal) -> None:
    """403 naming the field unless the caller is the operator (its admin keys only reach here)."""
    if caller.tenant != OPERATOR_TENANT:
        message = f"only an admin key of tenant {OPERATOR_TENANT!r} may set allow_private"
        raise ProblemError(
            403,
            "forbidden",
            "Forbidden",
            f"body.allow_private: {message}",
            errors=[field_error("body.allow_private", "operator_only", message)],
        )


async def _check_url(settings: Settings, url: str, *, private: bool) -> None:
    """422 on body.url when the SSRF guard refuses it (resolved now; rechecked at each send)."""
    guard = GuardConfig(allow=GuardConfig.parse_allow(settings.net_allow), private=private)
    try:
        async with asyncio.timeout(settings.webhook_timeout_s):
            await netguard.check(url, guard)
    except UrlRefused as exc:
        raise invalid("body.url", "url_refused", str(exc)) from exc
    except TimeoutError as exc:
        message = f"the host did not resolve within {settings.webhook_timeout_s:g}s"
        raise invalid("body.url", "url_refused", message) from exc


def _events(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))  # once each, in the order given


@router.post("", status_code=201, summary="Make a webhook (its secret is shown this once)")
async def create(
    body: WebhookCreate, caller: Admin, pool: PoolDep, settings: SettingsDep
) -> WebhookCreated:
    """It hears of the events that happen from now on."""
    if body.allow_private:
        _operator_only(caller)
    await _check_url(settings, body.url, private=body.allow_private)
    new = webhook.NewWebhook(
        name=body.name,
        url=body.url,
        events=_events(list(body.events)),
        secret=webhooks.new_secret(),
        allow_private=body.allow_private,
    )
    row = await webhook.insert(pool, new, tenant=caller.tenant, created_by=caller.key_id)
    return WebhookCreated.model_validate({**row, "paused": False})


@router.get("", summary="The tenant's webhooks")
async def list_webhooks(caller: Admin, pool: PoolDep) -> Page[WebhookPublic]:
    """Every webhook of the tenant in one page (by name), without secrets."""
    rows = await webhook.list_(pool, tenant=caller.tenant)
    return Page[WebhookPublic](items=[_public(row) for row in rows])


@router.get("/{name}", summary="A webhook and its newest deliveries")
async def get_webhook(name: WebhookName, caller: Admin, pool: PoolDep) -> WebhookPublic:
    row = await webhook.get(pool, name, tenant=caller.tenant)
    sent = await webhook.recent(pool, name, tenant=caller.tenant, limit=RECENT_DELIVERIES)
    return _public(row, sent)


@router.patch("/{name}", summary="Change a webhook's URL, events or allow_private")
async def update(
    name: WebhookName, body: WebhookUpdate, caller: Admin, pool: PoolDep, settings: SettingsDep
) -> WebhookPublic:
    if body.allow_private:
        _operator_only(caller)
    if body.url is not None:
        current = await webhook.get(pool, name, tenant=caller.tenant)
        private = current["allow_private"] if body.allow_private is None else body.allow_private
        await _check_url(settings, body.url, private=private)
    row = await webhook.update(
        pool,
        name,
        tenant=caller.tenant,
        url=body.url,
        events=None if body.events is None else _events(list(body.events)),
        allow_private=body.allow_private,
    )
    return _public(row)


@router.post("/{name}/pause", summary="Stop making deliveries for a webhook")
async def pause(name: WebhookName, caller: Admin, pool: PoolDep) -> WebhookPublic:
    """Deliveries already made are still sent; events during the pause are never delivered."""
    return _public(await webhook.pause(pool, name, tenant=caller.tenant))


@router.post("/{name}/resume", summary="Make deliveries again, from now on")
async def resume(name: WebhookName, caller: Admin, pool: PoolDep) -> WebhookPublic:
    return _public(await webhook.resume(pool, name, tenant=caller.tenant))


@router.delete("/{name}", status_code=204, summary="Delete a webhook")
async def delete(name: WebhookName, caller: Admin, pool: PoolDep) -> None:
    """Its deliveries not sent yet end without sending."""
    await webhook.delete(pool, name, tenant=caller.tenant)
