{# One row per publishable title (movie or show), attributes from its representative node. #}
with

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

final as (

    select
        title_id,
        content_type,
        title,
        full_path,
        tmdb_id,
        imdb_id,
        synopsis,
        release_year,
        release_date_text,
        runtime_minutes,
        age_certification,
        original_language,
        imdb_score,
        tomato_meter,
        new_since

    from nodes

    where node_rank = 1

)

select * from final
