{#
    The enrichment input the Python enricher reads (contract in docs/raw-tables.md):
    one row per publishable title with the fields the LLM sees and their hash.
#}
with

prepared as (

    select * from {{ ref('int_titles_prepared') }}

),

final as (

    select
        id,
        title,
        content_type,
        release_year,
        synopsis,
        source_genres,
        scraped_reviews,
        source_data_hash

    from prepared

)

select * from final
