{{
    config(
        materialized='incremental',
        unique_key=['id', 'country_code'],
        incremental_strategy='merge',
        on_schema_change='fail',
        contract={'enforced': true},
    )
}}

{#
    Where each published title is available: one row per (title, country it is listed in), with
    that country's streaming services (distinct clear names, sorted, comma-separated, as the mart
    writes them) and the first and latest day it was listed as new there. Built with the published
    table (after the gate), only for titles it holds (a relationships test holds it to them).

    Incremental (merge on id and country_code): a raw listing keeps only its latest day, so the
    first day a title was listed in a country is kept from the earlier runs (least), the latest
    moves forward (greatest); re-running a day changes nothing.
#}
{%- set string_type = long_string_type() -%}

with

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

platforms as (

    select * from {{ ref('int_titles_platforms_aggregated') }}

),

published as (

    select * from {{ ref('movies_tv_shows_enriched') }}

),

existing as (

    {% if is_incremental() -%}
    select
        id,
        country_code,
        first_listed_on,
        last_listed_on

    from {{ this }}
    {%- else -%}
    select
        cast(null as {{ string_type }}) as id,
        cast(null as {{ string_type }}) as country_code,
        cast(null as date) as first_listed_on,
        cast(null as date) as last_listed_on

    where 1 = 0
    {%- endif %}

),

listings as (

    select
        title_id,
        listing_country,
        min(new_since) as first_listed_on,
        max(new_since) as last_listed_on

    from nodes

    group by title_id, listing_country

),

final as (

    select
        cast(listings.title_id as {{ string_type }}) as id,
        cast(listings.listing_country as {{ string_type }}) as country_code,
        cast(platforms.streaming_platforms as {{ string_type }}) as streaming_platforms,
        cast(
            least(coalesce(existing.first_listed_on, listings.first_listed_on), listings.first_listed_on) as date
        ) as first_listed_on,
        cast(
            greatest(coalesce(existing.last_listed_on, listings.last_listed_on), listings.last_listed_on) as date
        ) as last_listed_on

    from listings

    inner join published
        on listings.title_id = published.id

    left join platforms
        on
            listings.title_id = platforms.title_id
            and listings.listing_country = platforms.listing_country

    left join existing
        on
            listings.title_id = existing.id
            and listings.listing_country = existing.country_code

)

select * from final
