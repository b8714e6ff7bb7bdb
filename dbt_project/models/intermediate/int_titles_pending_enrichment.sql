{#
    Titles that cannot be published yet: no `status = 'ok'` enrichment for their current
    source_data_hash (never attempted, or every attempt failed). The enricher retries them on
    the next run; the mart keeps any earlier published version until then.
#}
with

prepared as (

    select * from {{ ref('int_titles_prepared') }}

),

enrichments as (

    select * from {{ ref('stg_enrichment__title_enrichments') }}

),

latest_ok as (

    select * from {{ ref('int_enrichments_latest_ok') }}

),

attempts as (

    select
        enrichments.title_id,
        enrichments.source_data_hash,
        enrichments.enrichment_status,
        enrichments.error_message,
        enrichments.enriched_at,
        row_number() over (
            partition by enrichments.title_id, enrichments.source_data_hash
            order by
                enrichments.enriched_at desc,
                enrichments.prompt_version desc,
                enrichments.enrichment_model desc
        ) as attempt_rank,
        count(*) over (
            partition by enrichments.title_id, enrichments.source_data_hash
        ) as attempt_count

    from enrichments

),

last_attempts as (

    select
        title_id,
        source_data_hash,
        enrichment_status,
        error_message,
        enriched_at,
        attempt_count

    from attempts

    where attempt_rank = 1

),

final as (

    select
        prepared.id,
        prepared.title,
        prepared.content_type,
        prepared.source_data_hash,
        last_attempts.error_message as last_error,
        last_attempts.enriched_at as last_attempted_at,
        case
            when last_attempts.title_id is null then 'not_attempted'
            else 'failed'
        end as pending_reason,
        coalesce(last_attempts.attempt_count, 0) as failed_attempts

    from prepared

    left join latest_ok
        on
            prepared.id = latest_ok.title_id
            and prepared.source_data_hash = latest_ok.source_data_hash

    left join last_attempts
        on
            prepared.id = last_attempts.title_id
            and prepared.source_data_hash = last_attempts.source_data_hash

    where latest_ok.title_id is null

)

select * from final
