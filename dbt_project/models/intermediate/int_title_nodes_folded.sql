{#
    One row per JustWatch node and listing country, mapped to the title it is published under: a
    season (`tss…`) folds into its parent show (`ts…`), taking the show's id, title, detail path
    and external ids. `node_rank` 1 marks the node whose attributes represent the title (once,
    across countries): the show itself when it is listed, else its latest season; a listing in
    the run's primary country (macro primary_country) before one elsewhere.
#}
{%- set primary = primary_country() -%}

with

titles as (

    select * from {{ ref('stg_justwatch__titles') }}

),

mapped as (

    select
        node_id,
        dlt_id,
        object_type,
        season_number,
        synopsis,
        release_year,
        release_date_text,
        runtime_minutes,
        age_certification,
        original_language,
        imdb_score,
        tomato_meter,
        listing_country,
        new_since,
        case
            when object_type = 'SHOW_SEASON' then coalesce(show_node_id, node_id)
            else node_id
        end as title_id,
        case
            when object_type = 'MOVIE' then 'Movie'
            else 'TV Show'
        end as content_type,
        case
            when object_type = 'SHOW_SEASON' then coalesce(show_title, title)
            else title
        end as title,
        case
            when object_type = 'SHOW_SEASON' then coalesce(show_full_path, full_path)
            else full_path
        end as full_path,
        case
            when object_type = 'SHOW_SEASON' then coalesce(show_tmdb_id, tmdb_id)
            else tmdb_id
        end as tmdb_id,
        case
            when object_type = 'SHOW_SEASON' then coalesce(show_imdb_id, imdb_id)
            else imdb_id
        end as imdb_id

    from titles

),

ranked as (

    select
        node_id,
        dlt_id,
        object_type,
        title_id,
        content_type,
        title,
        full_path,
        tmdb_id,
        imdb_id,
        season_number,
        synopsis,
        release_year,
        release_date_text,
        runtime_minutes,
        age_certification,
        original_language,
        imdb_score,
        tomato_meter,
        listing_country,
        new_since,
        row_number() over (
            partition by title_id
            order by
                case when node_id = title_id then 0 else 1 end asc,
                coalesce(season_number, -1) desc,
                case when listing_country = '{{ primary }}' then 0 else 1 end asc,
                new_since desc,
                listing_country asc,
                node_id asc
        ) as node_rank

    from mapped

)

select * from ranked
