{#
    Streaming platforms per title and listing country: distinct clear names, sorted, comma-separated
    (seasons included). The published mart takes the run's primary country's (int_titles_prepared,
    its v1 meaning); title_availability takes every country's.
#}
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
        nodes.listing_country,
        offers.package_name

    from offers

    inner join nodes
        on offers.title_dlt_id = nodes.dlt_id

),

final as (

    select
        title_id,
        listing_country,
        {{ csv_agg('package_name', 'package_name') }} as streaming_platforms

    from distinct_platforms

    group by title_id, listing_country

)

select * from final
