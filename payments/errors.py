"""Domain errors of the payments package.

One tree, so the web layer maps all of it with one handler (``web.payments``)::

    PaymentError
    ├── PaymentGatewayError     the payment provider could not be reached or refused (503)
    ├── PaymentsUnavailable     no payment provider is configured on this platform (503)
    ├── PaymentNotFound         no payment for this booking, or not one the caller sees (404)
    ├── HoldExpired             the slot's hold ran out before the payment (409)
    ├── PaymentDeclined         the card was declined; the client may try another (402)
    └── InvalidWebhook          a webhook whose signature or body is not valid (400)

Adapters raise :class:`PaymentGatewayError` ``from`` the SDK's exception; nothing of
the SDK reaches a view.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "HTTP_STATUS",
    "HoldExpired",
    "InvalidWebhook",
    "PaymentDeclined",
    "PaymentError",
    "PaymentGatewayError",
    "PaymentNotFound",
    "PaymentsUnavailable",
]


class PaymentError(Exception):
    """Base class of every error raised on purpose by :mod:`payments`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PaymentGatewayError(PaymentError):
    """The provider could not be reached, timed out, or answered with an error.

    The message is safe to show; the SDK's own error is the ``__cause__``."""

    def __init__(
        self,
        message: str = (
            "We could not reach our payment provider, so nothing was booked or charged. "
            "Please try again in a few minutes."
        ),
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code


class PaymentDeclined(PaymentGatewayError):
    """The provider refused the card (declined, expired, wrong code...)."""


class PaymentsUnavailable(PaymentError):
    """The platform has no payment provider configured (no Stripe key)."""

    def __init__(
        self,
        message: str = (
            "Online payment is not set up on this platform right now, so paid services "
            "cannot be booked. Please try again later."
        ),
    ) -> None:
        super().__init__(message)


class PaymentNotFound(PaymentError):
    def __init__(self, message: str = "This booking has no payment.") -> None:
        super().__init__(message)


class HoldExpired(PaymentError):
    def __init__(
        self,
        message: str = (
            "The time we held this slot for you ran out before the payment, so nothing "
            "was charged. Please pick a time again."
        ),
    ) -> None:
        super().__init__(message)


class InvalidWebhook(PaymentError):
    """The webhook's signature does not match the endpoint secret, or its body is not
    an event."""


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        PaymentError: (500, "payment_error"),
        PaymentGatewayError: (503, "payment_provider_unavailable"),
        PaymentDeclined: (402, "payment_declined"),
        PaymentsUnavailable: (503, "payments_unavailable"),
        PaymentNotFound: (404, "not_found"),
        HoldExpired: (409, "hold_expired"),
        InvalidWebhook: (400, "invalid_webhook"),
    }
)
