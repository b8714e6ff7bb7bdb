{#
    The titles the review extract asks review sites about: one row per movie or show, folded by
    int_title_nodes_folded / int_titles_folded (a season is reviewed as its parent show, with the
    show's id, title and external ids). `last_listed_on` is the latest day any of the title's nodes
    was listed as new (a new season makes its show new again); `first_listed_on` the earliest.
    extract/reviews reads this model (public, contract in _intermediate__models.yml, a table so the
    extract reads it without re-running the folding); it never folds titles itself. One row per title
    across countries (a title listed in five countries is reviewed once); `countries_listed` lets the
    review budgets prefer titles listed in more countries.
#}
{%- set string_type = long_string_type() -%}

with

titles as (

    select * from {{ ref('int_titles_folded') }}

),

listings as (

    select
        title_id,
        min(new_since) as first_listed_on,
        max(new_since) as last_listed_on,
        count(distinct listing_country) as countries_listed

    from {{ ref('int_title_nodes_folded') }}

    group by title_id

),

final as (

    select
        cast(titles.title_id as {{ string_type }}) as title_id,
        cast(titles.title as {{ string_type }}) as title,
        cast(titles.release_year as integer) as release_year,
        cast(titles.tmdb_id as {{ string_type }}) as tmdb_id,
        cast(titles.imdb_id as {{ string_type }}) as imdb_id,
        cast(titles.imdb_score as double precision) as imdb_score,
        cast(listings.first_listed_on as date) as first_listed_on,
        cast(listings.last_listed_on as date) as last_listed_on,
        cast(
            case when titles.content_type = 'Movie' then 'movie' else 'show' end as {{ string_type }}
        ) as subject_type,
        cast(listings.countries_listed as integer) as countries_listed

    from titles

    inner join listings
        on titles.title_id = listings.title_id

)

select * from final
