"""Platform plumbing shared by every package: settings (:mod:`consult.config`),
the database (:mod:`consult.db`, :mod:`consult.migrate`), background jobs
(:mod:`consult.jobs`) and the ``consult`` command (:mod:`consult.cli`)."""
