-- Time logged against the bid, per task. Task.entity is polymorphic (Shot, Asset or Sequence): staging
-- gives one key per type (entity_shot_id, entity_asset_id, entity_sequence_id), so each join is a plain
-- equality a BI tool can follow. Durations are SG minutes.
with tasks as (
    select * from {{ ref('stg_shotgrid__task') }}
),

logged as (
    select
        entity_id as task_id,
        sum(duration) as logged_mins,
        count(*) as time_logs
    from {{ ref('stg_shotgrid__time_log') }}
    group by 1
),

shots as (
    select * from {{ ref('stg_shotgrid__shot') }}
),

assets as (
    select * from {{ ref('stg_shotgrid__asset') }}
),

sequences as (
    select * from {{ ref('stg_shotgrid__sequence') }}
),

steps as (
    select * from {{ ref('stg_shotgrid__step') }}
)

select
    tasks.task_id,
    tasks.project_id,
    tasks.entity_type as link_type,
    coalesce(shots.code, assets.code, sequences.code) as link_code,
    steps.code as step,
    tasks.content as task_name,
    tasks.sg_status_list as task_status,
    tasks.est_in_mins as bid_mins,
    coalesce(logged.logged_mins, 0) as logged_mins,
    coalesce(logged.time_logs, 0) as time_logs,
    coalesce(logged.logged_mins, 0) - coalesce(tasks.est_in_mins, 0) as over_bid_mins,
    round(100.0 * coalesce(logged.logged_mins, 0) / nullif(tasks.est_in_mins, 0), 1) as pct_of_bid
from tasks
left join logged on tasks.task_id = logged.task_id
left join shots on tasks.entity_shot_id = shots.shot_id
left join assets on tasks.entity_asset_id = assets.asset_id
left join sequences on tasks.entity_sequence_id = sequences.sequence_id
left join steps on tasks.step_id = steps.step_id
