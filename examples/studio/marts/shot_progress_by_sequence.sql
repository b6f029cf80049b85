-- Shots per status for every sequence, with the sequence's episode (NULL on productions without episodes).
-- Joins three staging models through the keys staging unpacked from SG's links: shot.sg_sequence_id,
-- sequence.sg_episode_id (Episode is the site's CustomEntity01) and project_id.
with shots as (
    select * from {{ ref('stg_shotgrid__shot') }}
),

sequences as (
    select * from {{ ref('stg_shotgrid__sequence') }}
),

episodes as (
    select * from {{ ref('stg_shotgrid__custom_entity01') }}
),

projects as (
    select * from {{ ref('stg_shotgrid__project') }}
)

select
    projects.name as project_name,
    episodes.code as episode_code,
    sequences.sequence_id,
    sequences.code as sequence_code,
    shots.sg_status_list as shot_status,
    count(*) as shot_count,
    sum(shots.sg_cut_duration) as cut_frames
from shots
inner join sequences on shots.sg_sequence_id = sequences.sequence_id
inner join projects on shots.project_id = projects.project_id
left join episodes on sequences.sg_episode_id = episodes.custom_entity01_id
group by 1, 2, 3, 4, 5
