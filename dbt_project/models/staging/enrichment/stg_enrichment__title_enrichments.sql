with

source as (

    select * from {{ source('enrichment', 'title_enrichments') }}

),

renamed as (

    select
        ---------- keys
        {{ clean_text('id') }} as title_id,
        {{ clean_text('source_data_hash') }} as source_data_hash,
        {{ clean_text('prompt_version') }} as prompt_version,
        {{ clean_text('model') }} as enrichment_model,
        lower({{ clean_text('provider') }}) as enrichment_provider,
        lower({{ clean_text('status') }}) as enrichment_status,

        ---------- LLM output
        {{ clean_text('review_summary') }} as review_summary,
        cast(score as double precision) as llm_score,
        {{ clean_text('vibe_tags') }} as vibe_tags,
        {{ clean_text('primary_genre') }} as primary_genre,
        {{ clean_text('secondary_genres') }} as secondary_genres,

        ---------- cost and provenance
        cast(input_tokens as {{ dbt.type_bigint() }}) as input_tokens,
        cast(output_tokens as {{ dbt.type_bigint() }}) as output_tokens,
        cast(cost_usd as double precision) as cost_usd,
        cast(latency_ms as double precision) as latency_ms,
        {{ clean_text('error') }} as error_message,
        cast(enriched_at as timestamp with time zone) as enriched_at

    from source

)

select * from renamed
