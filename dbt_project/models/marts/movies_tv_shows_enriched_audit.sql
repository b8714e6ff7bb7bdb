{{
    config(
        schema='marts_audit',
        materialized='incremental',
        unique_key='id',
        incremental_strategy='merge',
        on_schema_change='fail',
        contract={'enforced': true},
    )
}}

{#
    The audit relation of the published table (write-audit-publish): one row per enriched
    movie or show. A run merges into this relation, where no consumer reads; dbt's tests and
    the Great Expectations gate check it; only then does `movies_tv_shows_enriched` publish
    it. A failing test or gate leaves the published table exactly as it was.

    Only titles with a successful enrichment for their *current* source_data_hash are
    published; the others wait in int_titles_pending_enrichment (a published row keeps its
    previous version until its new enrichment lands).

    Incremental: each run emits only rows that are new or whose content changed (a hash over
    every column but the timestamp, computed the same way for the incoming row and the
    existing one). Those rows get this run's timestamp and are merged on `id`; untouched rows
    keep theirs, so re-running a day changes nothing.
#}

{%- set content_columns = [
    'id',
    'title',
    'content_type',
    'streaming_platforms',
    'release_year',
    'release_date_text',
    'detail_url',
    'source_genres',
    'imdb_rating',
    'rotten_tomatoes_rating',
    'synopsis',
    'cast_members',
    'directors',
    'duration_text',
    'maturity_rating',
    'language',
    'country',
    'scraped_reviews',
    'llm_review_summary',
    'llm_generated_score',
    'llm_generated_vibe_tags',
    'llm_generated_primary_genre',
    'llm_generated_secondary_genres',
    'source_data_hash',
    'enrichment_provider',
    'enrichment_model',
    'prompt_version'
] -%}
{%- set string_type = long_string_type() -%}

with

prepared as (

    select * from {{ ref('int_titles_prepared') }}

),

enrichments as (

    select * from {{ ref('int_enrichments_latest_ok') }}

),

{% if is_incremental() %}
existing as (

    select * from {{ this }}

),

existing_hashed as (

    select
        id,
        {{ null_safe_hash(content_columns) }} as row_hash

    from existing

),
{% endif %}

joined as (

    select
        cast(prepared.id as {{ string_type }}) as id,
        cast(prepared.title as {{ string_type }}) as title,
        cast(prepared.content_type as {{ string_type }}) as content_type,
        cast(prepared.streaming_platforms as {{ string_type }}) as streaming_platforms,
        cast(prepared.release_year as integer) as release_year,
        cast(prepared.release_date_text as {{ string_type }}) as release_date_text,
        cast(prepared.detail_url as {{ string_type }}) as detail_url,
        cast(prepared.source_genres as {{ string_type }}) as source_genres,
        cast(prepared.imdb_rating as double precision) as imdb_rating,
        cast(prepared.rotten_tomatoes_rating as {{ string_type }}) as rotten_tomatoes_rating,
        cast(prepared.synopsis as {{ string_type }}) as synopsis,
        cast(prepared.cast_members as {{ string_type }}) as cast_members,
        cast(prepared.directors as {{ string_type }}) as directors,
        cast(prepared.duration_text as {{ string_type }}) as duration_text,
        cast(prepared.maturity_rating as {{ string_type }}) as maturity_rating,
        cast(prepared.language as {{ string_type }}) as language,  -- noqa: RF04
        cast(prepared.country as {{ string_type }}) as country,
        cast(prepared.scraped_reviews as {{ string_type }}) as scraped_reviews,
        cast(enrichments.review_summary as {{ string_type }}) as llm_review_summary,
        cast(enrichments.llm_score as double precision) as llm_generated_score,
        cast(enrichments.vibe_tags as {{ string_type }}) as llm_generated_vibe_tags,
        cast(enrichments.primary_genre as {{ string_type }}) as llm_generated_primary_genre,
        cast(enrichments.secondary_genres as {{ string_type }}) as llm_generated_secondary_genres,
        cast(prepared.source_data_hash as {{ string_type }}) as source_data_hash,
        cast(enrichments.enrichment_provider as {{ string_type }}) as enrichment_provider,
        cast(enrichments.enrichment_model as {{ string_type }}) as enrichment_model,
        cast(enrichments.prompt_version as {{ string_type }}) as prompt_version

    from prepared

    inner join enrichments
        on
            prepared.id = enrichments.title_id
            and prepared.source_data_hash = enrichments.source_data_hash

),

hashed as (

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
        language,  -- noqa: RF04
        country,
        scraped_reviews,
        llm_review_summary,
        llm_generated_score,
        llm_generated_vibe_tags,
        llm_generated_primary_genre,
        llm_generated_secondary_genres,
        source_data_hash,
        enrichment_provider,
        enrichment_model,
        prompt_version,
        {{ null_safe_hash(content_columns) }} as row_hash

    from joined

),

changed as (

    select
        hashed.id,
        hashed.title,
        hashed.content_type,
        hashed.streaming_platforms,
        hashed.release_year,
        hashed.release_date_text,
        hashed.detail_url,
        hashed.source_genres,
        hashed.imdb_rating,
        hashed.rotten_tomatoes_rating,
        hashed.synopsis,
        hashed.cast_members,
        hashed.directors,
        hashed.duration_text,
        hashed.maturity_rating,
        hashed.language,  -- noqa: RF04
        hashed.country,
        hashed.scraped_reviews,
        hashed.llm_review_summary,
        hashed.llm_generated_score,
        hashed.llm_generated_vibe_tags,
        hashed.llm_generated_primary_genre,
        hashed.llm_generated_secondary_genres,
        hashed.source_data_hash,
        hashed.enrichment_provider,
        hashed.enrichment_model,
        hashed.prompt_version

    from hashed

    {% if is_incremental() -%}
    left join existing_hashed
        on hashed.id = existing_hashed.id

    where existing_hashed.id is null or existing_hashed.row_hash <> hashed.row_hash
    {%- endif %}

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
        language,  -- noqa: RF04
        country,
        scraped_reviews,
        llm_review_summary,
        llm_generated_score,
        llm_generated_vibe_tags,
        llm_generated_primary_genre,
        llm_generated_secondary_genres,
        {{ ingestion_timestamp() }} as data_ingestion_timestamp,
        source_data_hash,
        enrichment_provider,
        enrichment_model,
        prompt_version

    from changed

)

select * from final
