"""The order service's figures for `gluta check`, computed over its own database in one snapshot.

- `wallets`: every wallet's ledger adds up to its balance (CHARGE + REFUND − PAYMENT); none is negative;
  no ledger row belongs to a member without a wallet.
- `coupons`: per coupon, the copies issued (`issued`) equal the member coupons held and never exceed its
  quantity; a member coupon is used exactly when it names its order, that order exists, is not cancelled
  and has the coupon on a line; no two live orders use one copy. With the Redis gate, its counter and
  member set agree with the copies persisted.
- `orders`: no order is PENDING longer than the saga's timeout (plus the sweeper's round); every PENDING
  or CONFIRMED order was paid exactly once (one PAYMENT of its pay amount, no REFUND); every CANCELLED one
  was paid once and refunded once, and holds no coupon any more.

For the checks across services the answer also carries the units of CONFIRMED orders per product and the
ids of the PENDING and CONFIRMED orders.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from gluta_order.bootstrap import OrderContext
from gluta_order.checkout.models import CANCELLED, CONFIRMED, PENDING, Order, OrderItem
from gluta_order.coupon.models import Coupon, MemberCoupon
from gluta_order.wallet.models import CHARGE, PAYMENT, REFUND, LedgerEntry, Wallet

SHOWN = 20  # problems listed by name; the rest are counted


def _result(problems: list[str], summary: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"ok": not problems, "summary": summary, "figures": figures, "problems": problems[:SHOWN],
            "problemCount": len(problems)}


async def order_figures(ctx: OrderContext) -> dict[str, Any]:
    """Return the `wallets`, `coupons` and `orders` invariants and the figures other checks compare."""
    async with ctx.db.consistent_reads() as conn:
        wallets = dict((await conn.execute(select(Wallet.member_id, Wallet.balance))).all())
        ledger = (await conn.execute(select(LedgerEntry.member_id, LedgerEntry.type, func.sum(LedgerEntry.amount))
                                     .group_by(LedgerEntry.member_id, LedgerEntry.type))).all()
        per_order = (await conn.execute(
            select(LedgerEntry.order_id, LedgerEntry.type, func.count(), func.sum(LedgerEntry.amount))
            .where(LedgerEntry.order_id.is_not(None)).group_by(LedgerEntry.order_id, LedgerEntry.type))).all()
        orders = (await conn.execute(select(Order.id, Order.status, Order.pay_amount, Order.created_at))).all()
        coupons = (await conn.execute(select(Coupon.id, Coupon.quantity, Coupon.issued))).all()
        held = dict((await conn.execute(select(MemberCoupon.coupon_id, func.count())
                                        .group_by(MemberCoupon.coupon_id))).all())
        used_copies = (await conn.execute(
            select(MemberCoupon.id, MemberCoupon.used, MemberCoupon.used_order_id)
            .where((MemberCoupon.used.is_(True)) | (MemberCoupon.used_order_id.is_not(None))))).all()
        coupon_lines = (await conn.execute(select(OrderItem.member_coupon_id, OrderItem.order_id)
                                           .where(OrderItem.member_coupon_id.is_not(None)))).all()
        confirmed_units = (await conn.execute(
            select(OrderItem.product_id, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id).where(Order.status == CONFIRMED)
            .group_by(OrderItem.product_id))).all()
    status_of = {int(order_id): status for order_id, status, _, _ in orders}
    counters = getattr(ctx.gate, "counters", None)  # the Redis gate: its counters must agree with the database
    redis = await counters([int(row[0]) for row in coupons]) if counters is not None else None
    return {
        "wallets": _wallets(wallets, ledger),
        "coupons": _coupons(coupons, held, used_copies, coupon_lines, status_of, redis, ctx.gate.strategy),
        "orders": _orders(ctx, orders, per_order, used_copies),
        "confirmedUnits": {str(product_id): int(units) for product_id, units in confirmed_units},
        "orderIds": {"confirmed": sorted(i for i, s in status_of.items() if s == CONFIRMED),
                     "pending": sorted(i for i, s in status_of.items() if s == PENDING)},
    }


def _wallets(wallets: dict[int, int], ledger: list[Any]) -> dict[str, Any]:
    sums: dict[int, int] = defaultdict(int)
    for member_id, entry_type, amount in ledger:
        sums[int(member_id)] += -int(amount) if entry_type == PAYMENT else int(amount)
    problems = []
    for member_id in sorted(set(wallets) | set(sums)):
        balance = wallets.get(member_id)
        if balance is None:
            problems.append(f"member {member_id}: ledger adds up to {sums[member_id]} but there is no wallet")
            continue
        if balance < 0:
            problems.append(f"member {member_id}: balance {balance} is negative")
        if balance != sums.get(member_id, 0):
            problems.append(f"member {member_id}: balance {balance} but the ledger adds up to {sums.get(member_id, 0)}")
    total = sum(wallets.values())
    charged = sum(int(a) for _, t, a in ledger if t == CHARGE)
    return _result(problems, f"{len(wallets)} wallets: ledgers add up to the balances ({total:,} won), none negative",
                   {"wallets": len(wallets), "balance": total, "charged": charged})


def _coupons(coupons: list[Any], held: dict[int, int], used_copies: list[Any], coupon_lines: list[Any],
             status_of: dict[int, str], redis: dict[int, tuple[int | None, int]] | None, gate: str) -> dict[str, Any]:
    problems = []
    issued_total = 0
    for coupon_id, quantity, issued in coupons:
        issued_total += issued
        copies = int(held.get(coupon_id, 0))
        if issued != copies:
            problems.append(f"coupon {coupon_id}: issued {issued} but members hold {copies}")
        if quantity is not None and max(issued, copies) > quantity:
            problems.append(f"coupon {coupon_id}: {max(issued, copies)} copies of a coupon of {quantity}")
        count, members = (redis or {}).get(int(coupon_id), (None, 0))
        if count is not None and (count != issued or members != count):  # None: not set up yet (first claim does)
            problems.append(f"coupon {coupon_id}: Redis counter {count} and {members} members, database {issued}")
    for coupon_id in sorted(set(held) - {row[0] for row in coupons}):
        problems.append(f"coupon {coupon_id}: members hold {held[coupon_id]} copies of a coupon that does not exist")
    lines_of: dict[int, list[int]] = defaultdict(list)
    for member_coupon_id, order_id in coupon_lines:
        lines_of[int(member_coupon_id)].append(int(order_id))
    used_by: dict[int, int | None] = {}
    for copy_id, used, order_id in used_copies:
        used_by[int(copy_id)] = order_id
        if bool(used) != (order_id is not None):
            problems.append(f"member coupon {copy_id}: used={bool(used)} but its order is {order_id}")
        elif order_id is not None:
            status = status_of.get(int(order_id))
            if status is None:
                problems.append(f"member coupon {copy_id}: used by order {order_id}, which does not exist")
            elif status == CANCELLED:
                problems.append(f"member coupon {copy_id}: still used by cancelled order {order_id}")
            elif int(order_id) not in lines_of.get(int(copy_id), []):
                problems.append(f"member coupon {copy_id}: used by order {order_id}, which has no line with it")
    for copy_id, order_ids in sorted(lines_of.items()):
        live = [o for o in order_ids if status_of.get(o) in (PENDING, CONFIRMED)]
        if len(live) > 1:
            problems.append(f"member coupon {copy_id}: used by {len(live)} live orders {live}")
        for order_id in live:
            if used_by.get(copy_id) != order_id:
                problems.append(f"member coupon {copy_id}: on a line of live order {order_id}, not marked used by it")
    used = sum(1 for _, u, _ in used_copies if u)
    summary = (f"{len(coupons)} coupons: {issued_total:,} issued = copies held, none over its quantity; "
               f"{used:,} used, each once, by a live order" + ("; Redis counters agree" if redis is not None else ""))
    return _result(problems, summary, {"coupons": len(coupons), "issued": issued_total, "used": used, "gate": gate})


def _orders(ctx: OrderContext, orders: list[Any], per_order: list[Any], used_copies: list[Any]) -> dict[str, Any]:
    money: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for order_id, entry_type, count, amount in per_order:
        money[int(order_id)][entry_type] = (int(count), int(amount or 0))
    holding = {int(order_id) for _, used, order_id in used_copies if order_id is not None}
    settings = ctx.settings
    # the sweeper looks every interval (±20 %): an order may outlive the timeout by one round, plus a margin
    stale_after = timedelta(seconds=settings.checkout_timeout_seconds + 1.2 * settings.sweeper_interval_seconds + 5)
    now = ctx.now()
    problems = []
    counts = {PENDING: 0, CONFIRMED: 0, CANCELLED: 0}
    stale = 0
    for order_id, status, pay_amount, created_at in orders:
        counts[status] = counts.get(status, 0) + 1
        paid = money.get(int(order_id), {})
        payments, paid_amount = paid.get(PAYMENT, (0, 0))
        refunds, refunded = paid.get(REFUND, (0, 0))
        expected = 1 if pay_amount > 0 else 0
        if (payments, paid_amount) != (expected, pay_amount):
            problems.append(f"order {order_id} ({status}): {payments} payment(s) of {paid_amount} for {pay_amount}")
        if status == CANCELLED:
            if (refunds, refunded) != (expected, pay_amount):
                problems.append(f"order {order_id} (CANCELLED): {refunds} refund(s) of {refunded} for {pay_amount}")
            if order_id in holding:
                problems.append(f"order {order_id} (CANCELLED): still holds a coupon")
        elif refunds:
            problems.append(f"order {order_id} ({status}): refunded {refunded} though not cancelled")
        if status == PENDING and now - created_at > stale_after:
            stale += 1
            problems.append(f"order {order_id}: PENDING for {(now - created_at).total_seconds():.0f} s "
                            f"(saga timeout {settings.checkout_timeout_seconds:g} s)")
    for order_id in sorted(set(money) - {int(o[0]) for o in orders}):
        problems.append(f"ledger: money moved for order {order_id}, which does not exist")
    summary = (f"{len(orders):,} orders: {counts[CONFIRMED]:,} CONFIRMED paid once, {counts[CANCELLED]:,} CANCELLED "
               f"refunded with coupons back, {counts[PENDING]:,} PENDING ({stale} past the "
               f"{settings.checkout_timeout_seconds:g} s timeout)")
    return _result(problems, summary, {"orders": len(orders), **{k.lower(): v for k, v in counts.items()},
                                       "stalePending": stale})
