{#
    The successful enrichment to publish for each (title, source_data_hash): the most recent
    `status = 'ok'` attempt, whichever prompt version or model produced it.
#}
with

enrichments as (

    select * from {{ ref('stg_enrichment__title_enrichments') }}

),

ranked as (

    select
        title_id,
        source_data_hash,
        prompt_version,
        enrichment_model,
        enrichment_provider,
        review_summary,
        llm_score,
        vibe_tags,
        primary_genre,
        secondary_genres,
        enriched_at,
        row_number() over (
            partition by title_id, source_data_hash
            order by enriched_at desc, prompt_version desc, enrichment_model desc
        ) as attempt_rank

    from enrichments

    where enrichment_status = 'ok'

),

final as (

    select
        title_id,
        source_data_hash,
        prompt_version,
        enrichment_model,
        enrichment_provider,
        review_summary,
        llm_score,
        vibe_tags,
        primary_genre,
        secondary_genres,
        enriched_at

    from ranked

    where attempt_rank = 1

)

select * from final
