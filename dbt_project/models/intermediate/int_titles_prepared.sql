{{ config(materialized='table') }}

{#
    One row per publishable title with every non-LLM column of the mart, in the mart's terms,
    plus source_data_hash: the hash of exactly what the LLM sees (title, content type, year,
    synopsis, source genres, reviews). A change in any of them means a new enrichment.
    Materialized as a table: the aggregations run once per build and are read by the enricher
    (through titles_enrichment_input), the pending model, the mart and their tests.
#}
with

titles as (

    select * from {{ ref('int_titles_folded') }}

),

platforms as (

    select * from {{ ref('int_titles_platforms_aggregated') }}

),

genres as (

    select * from {{ ref('int_titles_genres_aggregated') }}

),

countries as (

    select * from {{ ref('int_titles_countries_aggregated') }}

),

credits as (

    select * from {{ ref('int_titles_credits_aggregated') }}

),

reviews as (

    select * from {{ ref('int_titles_reviews_aggregated') }}

),

joined as (

    select
        titles.title_id as id,
        titles.title,
        titles.content_type,
        platforms.streaming_platforms,
        titles.release_year,
        titles.release_date_text,
        case
            when titles.full_path is not null
                then {{ dbt.concat(["'https://www.justwatch.com'", "titles.full_path"]) }}
        end as detail_url,
        genres.source_genres,
        titles.imdb_score as imdb_rating,
        case
            when titles.tomato_meter is not null
                then {{ dbt.concat(["cast(titles.tomato_meter as " ~ dbt.type_string() ~ ")", "'%'"]) }}
        end as rotten_tomatoes_rating,
        titles.synopsis,
        coalesce(credits.cast_members, '[]') as cast_members,
        coalesce(credits.directors, '[]') as directors,
        {{ duration_text('titles.runtime_minutes') }} as duration_text,
        titles.age_certification as maturity_rating,
        titles.original_language as language,  -- noqa: RF04
        countries.production_countries as country,
        coalesce(reviews.scraped_reviews, '[]') as scraped_reviews,
        coalesce(reviews.review_count, 0) as review_count,
        reviews.reviews_fingerprint,
        titles.tmdb_id,
        titles.imdb_id,
        titles.new_since

    from titles

    left join platforms
        on
            titles.title_id = platforms.title_id
            and platforms.listing_country = '{{ primary_country() }}'

    left join genres
        on titles.title_id = genres.title_id

    left join countries
        on titles.title_id = countries.title_id

    left join credits
        on titles.title_id = credits.title_id

    left join reviews
        on titles.title_id = reviews.title_id

),

final as (

    select
        id,
        title,
        content_type,
        streaming_platforms,
        release_year,
        release_date_text,
        detail_url,
        source_genres,
        imdb_rating,
        rotten_tomatoes_rating,
        synopsis,
        cast_members,
        directors,
        duration_text,
        maturity_rating,
        language,
        country,
        scraped_reviews,
        review_count,
        tmdb_id,
        imdb_id,
        new_since,
        {{ null_safe_hash([
            'title', 'content_type', 'release_year', 'synopsis', 'source_genres', 'reviews_fingerprint'
        ]) }} as source_data_hash

    from joined

)

select * from final
