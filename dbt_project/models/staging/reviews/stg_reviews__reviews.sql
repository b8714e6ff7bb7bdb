with

source as (

    select * from {{ source('reviews', 'reviews') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_text('title_id') }} as title_id,
        lower({{ clean_text('source') }}) as source_name,
        {{ clean_text('review_key') }} as review_key,

        ---------- review
        {{ clean_text('author') }} as author,
        {{ clean_text('review_text') }} as review_text,
        {{ clean_text('original_score') }} as original_score,
        cast(score_normalized as double precision) as score_normalized,
        {{ clean_text('review_url') }} as review_url,

        ---------- timestamps
        cast(published_at as timestamp with time zone) as published_at,
        cast(extracted_at as timestamp with time zone) as extracted_at

    from source

)

select * from renamed
