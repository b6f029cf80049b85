-- One row per episode (or per production without episodes): how many shots are final, in flight, waiting.
-- Built on shot_progress_by_sequence, so both marts always agree.
with by_sequence as (
    select * from {{ ref('shot_progress_by_sequence') }}
)

select
    project_name,
    coalesce(episode_code, '(none)') as episode_code,
    sum(shot_count) as shots_total,
    sum(case when shot_status = 'fin' then shot_count else 0 end) as shots_final,
    sum(case when shot_status in ('ip', 'rev') then shot_count else 0 end) as shots_in_progress,
    sum(case when shot_status in ('wtg', 'rdy') then shot_count else 0 end) as shots_waiting,
    sum(case when shot_status in ('hld', 'omt') then shot_count else 0 end) as shots_held_or_omitted,
    round(100.0 * sum(case when shot_status = 'fin' then shot_count else 0 end)
        / nullif(sum(case when shot_status <> 'omt' then shot_count else 0 end), 0), 1) as pct_final
from by_sequence
group by 1, 2
