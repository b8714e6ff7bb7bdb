{#
    The titles the review extract asks review sites about: one row per movie or show, folded by
    int_titles__nodes_folded / int_titles__folded (a season is reviewed as its parent show, with the
    show's id, title and external ids). `last_listed_on` is the latest day any of the title's nodes
    was listed as new (a new season makes its show new again); `first_listed_on` the earliest.
    extract/reviews reads this model; it never folds titles itself.
#}
with

titles as (

    select * from {{ ref('int_titles__folded') }}

),

listings as (

    select
        title_id,
        min(new_since) as first_listed_on,
        max(new_since) as last_listed_on

    from {{ ref('int_titles__nodes_folded') }}

    group by title_id

),

final as (

    select
        titles.title_id,
        case when titles.content_type = 'Movie' then 'movie' else 'show' end as subject_type,
        titles.title,
        titles.release_year,
        titles.tmdb_id,
        titles.imdb_id,
        titles.imdb_score,
        listings.first_listed_on,
        listings.last_listed_on

    from titles

    inner join listings
        on titles.title_id = listings.title_id

)

select * from final
