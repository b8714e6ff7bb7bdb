with

titles as (

    select * from {{ source('justwatch', 'titles') }}

),

genres as (

    select * from {{ source('justwatch', 'titles__genres') }}

),

joined as (

    select
        cast(titles.id as {{ dbt.type_string() }}) as node_id,
        lower({{ clean_text('genres.value') }}) as genre_code,
        cast(genres._dlt_list_idx as integer) as list_position

    from genres

    inner join titles
        on genres._dlt_parent_id = titles._dlt_id

),

final as (

    select
        node_id,
        genre_code,
        list_position

    from joined

    where genre_code is not null

)

select * from final
