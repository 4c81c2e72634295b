"""The payment-gateway port: what the platform needs from a payment provider, in
the provider's neutral terms. :mod:`payments.stripe_gateway` is the adapter for
Stripe; the adapter is chosen by dotted path (``[payments] gateway``) like
Warehouse's billing backends.

Amounts are integers in the currency's minor unit (cents; yen have none) and
currencies upper-case ISO 4217 codes, everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from consult.config import SCHEMA, ConfigError, Settings, env_name
from consult.services import Port

# The life of a payment intent (Stripe's names, which are also the common ones).
IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
]
RefundStatus = Literal["pending", "requires_action", "succeeded", "failed", "canceled"]
# What a webhook event means for us; anything else is "ignored".
EventKind = Literal[
    "payment_succeeded",
    "payment_failed",
    "payment_canceled",
    "payment_processing",
    "refund_updated",
    "ignored",
]


@dataclass(frozen=True)
class IntentState:
    """A payment intent as the provider has it now."""

    id: str
    status: IntentStatus
    amount: int
    currency: str
    client_secret: str | None = None
    amount_refunded: int = 0
    last_error: str | None = None

    @property
    def is_paid(self) -> bool:
        return self.status == "succeeded"

    @property
    def is_open(self) -> bool:
        """The client can still pay (or is paying)."""
        return self.status not in ("succeeded", "canceled")


@dataclass(frozen=True)
class RefundState:
    """A refund as the provider has it now."""

    id: str
    intent_id: str | None
    amount: int
    currency: str
    status: RefundStatus
    failure_reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook event, translated: ``kind`` says what happened, ``intent``
    and ``refunds`` carry the objects' states as of the event."""

    id: str
    type: str
    kind: EventKind
    intent: IntentState | None = None
    intent_id: str | None = None
    refunds: tuple[RefundState, ...] = ()


class PaymentGateway(Protocol):
    """A payment provider. Every method either returns the provider's current state
    or raises :class:`payments.errors.PaymentGatewayError` (network, timeout, refusal);
    :meth:`parse_webhook` raises :class:`payments.errors.InvalidWebhook`."""

    @property
    def name(self) -> str:
        """Short provider name stored with each payment ("stripe")."""
        ...

    @property
    def publishable_key(self) -> str:
        """The key browsers and apps use with the provider's client library."""
        ...

    def create_intent(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> IntentState:
        """Create a payment intent the client then pays with its client secret."""
        ...

    def retrieve_intent(self, intent_id: str) -> IntentState:
        """The intent's current state (the server-side check behind webhooks)."""
        ...

    def cancel_intent(self, intent_id: str) -> IntentState:
        """Cancel an intent that is not paid; returns the current state, which is
        "succeeded" when the payment won the race (then nothing is cancelled)."""
        ...

    def confirm_with_card_token(self, intent_id: str, token: str) -> IntentState:
        """Pay the intent with a card token made by the provider's browser library
        (the path for browser libraries without a payment-confirmation call)."""
        ...

    def create_refund(
        self,
        *,
        intent_id: str,
        amount: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundState:
        """Refund ``amount`` of a paid intent; the same key twice is one refund."""
        ...

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """Verify ``signature`` over ``payload`` with the endpoint secret (its timestamp
        near our clock, either way) and return the event, translated. Raises
        :class:`payments.errors.InvalidWebhook`, saying why, for a bad signature and
        for a body that is not a UTF-8 JSON event object."""
        ...


# The platform's gateway; None when payments are off (no secret key).
GATEWAY: Port[PaymentGateway | None] = Port("payments.gateway")


@dataclass(frozen=True)
class GatewayConfig:
    """What an adapter is built from: the ``[payments]`` settings."""

    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_base: str
    timeout_seconds: float
    network_retries: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        section = settings.payments
        return cls(
            secret_key=section.secret_key,
            publishable_key=section.publishable_key,
            webhook_secret=section.webhook_secret,
            api_base=section.stripe_api_base,
            timeout_seconds=float(section.request_timeout_seconds),
            network_retries=int(section.network_retries),
        )


# Keys come from the environment only; tests and the CLI may pass overrides.
_KEY_OPTIONS = ("secret_key", "publishable_key", "webhook_secret")


def check_key_sources(settings: Settings) -> None:
    """Raise ConfigError when a payment key was read from a config file: keys belong
    in the environment (CONSULT_STRIPE_*), never in a file that may be committed."""
    for option in _KEY_OPTIONS:
        source = settings.sources.get(("payments", option), "default")
        if source.startswith("file"):
            variable = env_name("payments", option, SCHEMA["payments"][option])
            raise ConfigError(
                f"invalid value for option {option!r} in section [payments] (from {source}): "
                f"payment keys are only taken from the environment; set {variable} instead"
            )


def create_gateway(settings: Settings) -> PaymentGateway | None:
    """The configured adapter, or None when no secret key is set (payments off: paid
    services cannot be published or booked). Raises ConfigError for keys read from a
    file, a secret key without its publishable key, or an adapter that cannot be loaded."""
    check_key_sources(settings)
    config = GatewayConfig.from_settings(settings)
    if not config.secret_key:
        return None
    if not config.publishable_key:
        raise ConfigError(
            "[payments] secret_key is set but publishable_key is not: set "
            "CONSULT_STRIPE_PUBLISHABLE_KEY too (browsers and apps need it to pay)"
        )
    factory = _load(settings.payments.gateway)
    gateway: PaymentGateway = factory(config)
    return gateway


def _load(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"invalid value for option 'gateway' in section [payments]: cannot load {path!r} "
            f"({error})"
        ) from error
