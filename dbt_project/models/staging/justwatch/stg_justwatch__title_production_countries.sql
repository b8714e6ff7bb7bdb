with

titles as (

    select * from {{ source('justwatch', 'titles') }}

),

countries as (

    select * from {{ source('justwatch', 'titles__production_countries') }}

),

joined as (

    select
        cast(titles.id as {{ dbt.type_string() }}) as node_id,
        upper({{ clean_text('countries.value') }}) as country_code,
        cast(countries._dlt_list_idx as integer) as list_position

    from countries

    inner join titles
        on countries._dlt_parent_id = titles._dlt_id

),

final as (

    select
        node_id,
        country_code,
        list_position

    from joined

    where country_code is not null

)

select * from final
