"""Background synchronisation with the outside world: notifications (email and in-app)
in :mod:`sync.notifications`, and mirroring of external calendars in
:mod:`sync.calendars`. Both run as rq jobs, or inside the app without Redis."""
