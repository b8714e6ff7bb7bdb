{# Streaming platforms per title: distinct clear names, sorted, comma-separated (seasons included). #}
with

offers as (

    select * from {{ ref('stg_justwatch__title_offers') }}

),

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

distinct_platforms as (

    select distinct
        nodes.title_id,
        offers.package_name

    from offers

    inner join nodes
        on offers.title_dlt_id = nodes.dlt_id

),

final as (

    select
        title_id,
        {{ csv_agg('package_name', 'package_name') }} as streaming_platforms

    from distinct_platforms

    group by title_id

)

select * from final
