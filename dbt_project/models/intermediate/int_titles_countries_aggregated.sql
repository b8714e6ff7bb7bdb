{# Production countries per title: distinct ISO codes, sorted, comma-separated. #}
with

countries as (

    select * from {{ ref('stg_justwatch__title_production_countries') }}

),

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

distinct_countries as (

    select distinct
        nodes.title_id,
        countries.country_code

    from countries

    inner join nodes
        on countries.title_dlt_id = nodes.dlt_id

),

final as (

    select
        title_id,
        {{ csv_agg('country_code', 'country_code') }} as production_countries

    from distinct_countries

    group by title_id

)

select * from final
