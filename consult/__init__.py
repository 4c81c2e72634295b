"""Platform plumbing shared by every package: settings (:mod:`consult.config`),
the database (:mod:`consult.db`, :mod:`runtime.migrate`), background jobs
(:mod:`consult.jobs`) and the ``consult`` command (:mod:`runtime.cli`)."""
