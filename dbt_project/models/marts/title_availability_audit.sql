{{
    config(
        schema='marts_audit',
        materialized='table',
        contract={'enforced': true},
    )
}}

{#
    The audit relation of title_availability (write-audit-publish): where each audited title is
    listed, one row per (title, country of the run's `countries` var), with that country's streaming
    services (distinct clear names, sorted, comma-separated, as the mart writes them) and the first and
    latest day the raw listings have it as new there. Built with the mart's audit relation; its dbt tests
    and the Great Expectations gate (per country) check it before title_availability merges it into the
    published rows (which keep the first listing day across runs).

    Only the run's countries: a country dropped from `run.countries` keeps its published rows but is not
    refreshed.
#}
{%- set string_type = long_string_type() -%}

with

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

platforms as (

    select * from {{ ref('int_titles_platforms_aggregated') }}

),

audited as (

    select * from {{ ref('movies_tv_shows_enriched_audit') }}

),

listings as (

    select
        title_id,
        listing_country,
        min(new_since) as first_listed_on,
        max(new_since) as last_listed_on

    from nodes

    where listing_country in ({{ run_countries_sql() }})

    group by title_id, listing_country

),

final as (

    select
        cast(listings.title_id as {{ string_type }}) as id,
        cast(listings.listing_country as {{ string_type }}) as country_code,
        cast(platforms.streaming_platforms as {{ string_type }}) as streaming_platforms,
        cast(listings.first_listed_on as date) as first_listed_on,
        cast(listings.last_listed_on as date) as last_listed_on

    from listings

    inner join audited
        on listings.title_id = audited.id

    left join platforms
        on
            listings.title_id = platforms.title_id
            and listings.listing_country = platforms.listing_country

)

select * from final
