"""``sg2dbt sync``: keep a warehouse equal to the site, unattended (decisions in docs/sync.md).

One cycle (:func:`sg2dbt.sync.run.cycle`): the live schema against the warehouse (:mod:`.schema`), the records
that changed from the site's event log (:mod:`.events`) applied through the loader (:mod:`.cursor` keeps the
event cursor beside the rows), an ``updated_at`` scan on a slower schedule, one lock per warehouse (:mod:`.lock`).
"""
