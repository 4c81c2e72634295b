"""Every table the platform has, imported in one place so that Alembic and the
tests see the whole schema. Packages add their model modules here."""

from __future__ import annotations

import accounts.models  # noqa: F401
import booking.models  # noqa: F401
import caldav_server.models  # noqa: F401
import directory.profiles  # noqa: F401
import moderation.models  # noqa: F401
import notifications.models  # noqa: F401
import payments.models  # noqa: F401
import reviews.models  # noqa: F401
import sync.models  # noqa: F401
import video.models  # noqa: F401
from consult.db import Base

metadata = Base.metadata
