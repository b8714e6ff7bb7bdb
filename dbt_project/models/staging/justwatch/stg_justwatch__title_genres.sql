{#
    One row per item of a node's genres list (the dlt child table
    titles__genres). `title_dlt_id` is the node's `dlt_id` in stg_justwatch__titles:
    intermediate models join on it, so each staging model reads exactly one source table.
#}
with

genres as (

    select * from {{ source('justwatch', 'titles__genres') }}

),

renamed as (

    select
        cast(genres._dlt_parent_id as {{ dbt.type_string() }}) as title_dlt_id,
        lower({{ clean_text('genres.value') }}) as genre_code,
        cast(genres._dlt_list_idx as integer) as list_position

    from genres

),

final as (

    select
        title_dlt_id,
        genre_code,
        list_position

    from renamed

    where genre_code is not null

)

select * from final
