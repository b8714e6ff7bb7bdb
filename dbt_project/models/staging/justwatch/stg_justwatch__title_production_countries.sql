{#
    One row per item of a node's production countries list (the dlt child table
    titles__production_countries). `title_dlt_id` is the node's `dlt_id` in stg_justwatch__titles:
    intermediate models join on it, so each staging model reads exactly one source table.
#}
with

countries as (

    select * from {{ source('justwatch', 'titles__production_countries') }}

),

renamed as (

    select
        cast(countries._dlt_parent_id as {{ dbt.type_string() }}) as title_dlt_id,
        upper({{ clean_text('countries.value') }}) as country_code,
        cast(countries._dlt_list_idx as integer) as list_position

    from countries

),

final as (

    select
        title_dlt_id,
        country_code,
        list_position

    from renamed

    where country_code is not null

)

select * from final
