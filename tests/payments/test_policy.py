"""The cancellation policy, pure: table-driven tiers at their boundaries, and
properties that hold for every policy (never more than paid, never less for
cancelling earlier, the professional always refunds in full)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.policy import CancellationPolicy, RefundDecision, describe, refund_due

START = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
ANA = CancellationPolicy(full_hours=24, partial_hours=6, partial_percent=50)


@pytest.mark.parametrize(
    ("hours_before", "expected"),
    [
        (72, RefundDecision("full", 100, 9000)),
        (24, RefundDecision("full", 100, 9000)),  # "up to 24 h before" includes 24 h
        (23.99, RefundDecision("partial", 50, 4500)),
        (6, RefundDecision("partial", 50, 4500)),
        (5.99, RefundDecision("none", 0, 0)),
        (0.01, RefundDecision("none", 0, 0)),
    ],
)
def test_a_client_gets_the_tier_of_the_moment_they_cancel(
    hours_before: float, expected: RefundDecision
) -> None:
    cancelled = START - timedelta(hours=hours_before)
    assert refund_due(ANA, 9000, start=START, cancelled_at=cancelled, by="client") == expected


@pytest.mark.parametrize("by", ["professional", "system"])
def test_the_professional_or_the_platform_always_refunds_in_full(by: str) -> None:
    late = START - timedelta(minutes=5)
    none_at_all = CancellationPolicy(full_hours=None)
    for policy in (ANA, none_at_all):
        decision = refund_due(policy, 1234, start=START, cancelled_at=late, by=by)  # type: ignore[arg-type]
        assert decision == RefundDecision("full", 100, 1234)


def test_partial_amounts_round_half_up_in_minor_units() -> None:
    policy = CancellationPolicy(full_hours=48, partial_hours=0, partial_percent=33)
    cancelled = START - timedelta(hours=1)
    assert refund_due(policy, 1001, start=START, cancelled_at=cancelled, by="client").amount == 330
    assert refund_due(policy, 1050, start=START, cancelled_at=cancelled, by="client").amount == 347
    # Yen have no minor unit: the amount is already whole yen.
    assert refund_due(policy, 5000, start=START, cancelled_at=cancelled, by="client").amount == 1650


def test_inconsistent_policies_are_refused_and_described() -> None:
    with pytest.raises(ValueError):
        CancellationPolicy(full_hours=6, partial_hours=24, partial_percent=50)
    with pytest.raises(ValueError):
        CancellationPolicy(full_hours=24, partial_hours=6, partial_percent=0)
    assert describe(ANA) == (
        "Full refund if you cancel at least 24 hours before; 50% back if you cancel at least "
        "6 hours before; no refund after that. A cancellation by the professional is refunded "
        "in full."
    )
    assert describe(CancellationPolicy(full_hours=None)).startswith("No refund if you cancel.")
    assert "at least 2 days before" in describe(CancellationPolicy(full_hours=48))


policies = st.builds(
    lambda full, gap, percent, partial_on: CancellationPolicy(
        full_hours=full,
        partial_hours=(max(full - gap, 0) if full is not None and full - gap >= 0 else None)
        if partial_on
        else None,
        partial_percent=percent if partial_on and full is not None and full - gap >= 0 else 0,
    ),
    st.one_of(st.none(), st.integers(1, 24 * 30)),
    st.integers(1, 24 * 7),
    st.integers(1, 99),
    st.booleans(),
)


@given(
    policy=policies,
    paid=st.integers(0, 10_000_000),
    earlier=st.integers(0, 24 * 60 * 40),
    later=st.integers(0, 24 * 60 * 40),
)
def test_refunds_never_exceed_the_payment_and_never_shrink_for_cancelling_earlier(
    policy: CancellationPolicy, paid: int, earlier: int, later: int
) -> None:
    first, second = sorted((earlier, later), reverse=True)  # minutes before the start
    sooner = refund_due(
        policy, paid, start=START, cancelled_at=START - timedelta(minutes=first), by="client"
    )
    later_one = refund_due(
        policy, paid, start=START, cancelled_at=START - timedelta(minutes=second), by="client"
    )
    assert 0 <= later_one.amount <= sooner.amount <= paid
    assert sooner.tier in ("full", "partial", "none")
