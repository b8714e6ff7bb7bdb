{#
    What is new to stream this week, per country: the published titles listed as new in a country
    within `new_this_week_days` (dbt var) of that country's latest listing day, with the country's
    services and the title's enrichment. The app queries it by country:
    `select * from marts.titles_new_this_week where country_code = 'GB' order by last_listed_on desc`.
#}
{%- set days = var('new_this_week_days') | int -%}

with

availability as (

    select * from {{ ref('title_availability') }}

),

published as (

    select * from {{ ref('movies_tv_shows_enriched') }}

),

latest as (

    select
        country_code,
        max(last_listed_on) as latest_listed_on

    from availability

    group by country_code

),

final as (

    select
        availability.country_code,
        availability.id,
        published.title,
        published.content_type,
        availability.streaming_platforms,
        availability.first_listed_on,
        availability.last_listed_on,
        published.release_year,
        published.imdb_rating,
        published.llm_generated_score,
        published.llm_generated_primary_genre,
        published.llm_review_summary

    from availability

    inner join latest
        on availability.country_code = latest.country_code

    inner join published
        on availability.id = published.id

    where availability.last_listed_on > latest.latest_listed_on - {{ days }}

)

select * from final
