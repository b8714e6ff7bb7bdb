{#
    The enrichment input, the interface enrich/ reads (a public model with an enforced contract;
    its columns and types are declared in _marts__models.yml): one row per publishable title with
    the fields the LLM sees and their hash.
#}
{%- set string_type = long_string_type() -%}

with

prepared as (

    select * from {{ ref('int_titles_prepared') }}

),

final as (

    select
        cast(id as {{ string_type }}) as id,
        cast(title as {{ string_type }}) as title,
        cast(content_type as {{ string_type }}) as content_type,
        cast(release_year as integer) as release_year,
        cast(synopsis as {{ string_type }}) as synopsis,
        cast(source_genres as {{ string_type }}) as source_genres,
        cast(scraped_reviews as {{ string_type }}) as scraped_reviews,
        cast(source_data_hash as {{ string_type }}) as source_data_hash

    from prepared

)

select * from final
