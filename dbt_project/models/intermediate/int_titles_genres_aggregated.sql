{#
    Source genres per title: JustWatch short codes translated through the justwatch_genres
    seed, distinct, sorted, comma-separated. An unknown code is kept as-is (never dropped);
    a relationships test on the staging model warns about it.
#}
with

genres as (

    select * from {{ ref('stg_justwatch__title_genres') }}

),

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

genre_names as (

    select * from {{ ref('justwatch_genres') }}

),

distinct_genres as (

    select distinct
        nodes.title_id,
        coalesce(genre_names.genre_name, genres.genre_code) as genre_name

    from genres

    inner join nodes
        on genres.title_dlt_id = nodes.dlt_id

    left join genre_names
        on genres.genre_code = genre_names.genre_code

),

final as (

    select
        title_id,
        {{ csv_agg('genre_name', 'genre_name') }} as source_genres

    from distinct_genres

    group by title_id

)

select * from final
