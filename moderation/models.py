"""The operators' action log: one row for every moderation action, written in the
transaction of the action itself, so the log holds exactly what happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consult.db import Base, UTCDateTime, utcnow

# What ``OperatorAction.action`` says, and what ``target_type`` it names.
HIDE_REVIEW = "hide_review"
RESTORE_REVIEW = "restore_review"
SUSPEND_USER = "suspend_user"
UNSUSPEND_USER = "unsuspend_user"
HANDLE_NO_SHOW = "handle_no_show"
REVIEW = "review"
USER = "user"
NO_SHOW = "no_show"  # its target_id is the booking's id (a no-show's key)

MAX_REASON = 1000


class OperatorAction(Base):
    """Operator ``operator_id`` did ``action`` to ``target_type`` #``target_id``."""

    __tablename__ = "operator_action"
    __table_args__ = (
        Index("ix_operator_action_created", "created_at"),
        Index("ix_operator_action_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
